"""apiframe v2 end to end through the real bot: `/generate` and `/extend` delivered by signed webhooks (forgeries
refused without a change), the song's model kept, continue points past a song's end refused before anything is
spent (and apiframe's 409 told plainly), and polling when the public URL is not https."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.harness import (
    PROVIDER_KEY,
    eventually,
    failed_generation_notice,
    free_port,
    is_result,
    provider_env,
    running_bot,
    settings_for,
    webhook_env,
)
from tests.e2e.test_extend_flow import assert_result_message
from tests.e2e.test_generate import clip_ids, ever_said
from tests.fakes.apiframe_v2 import FakeApiframeV2, signature
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.reliability.harness import BotProcess, bot_process_env, tasks

KEY = f"afk_{PROVIDER_KEY}"
PUBLIC = "https://encore.test"


async def post_raw(url: str, raw: bytes, headers: dict[str, str]) -> int:
    """POST like apiframe would (the exact bytes given), and the status Encore answered."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=raw, headers={"Content-Type": "application/json", **headers}) as response,
    ):
        return response.status


async def test_the_real_process_generates_and_extends_by_signed_webhooks_and_refuses_forgeries(
    tmp_path: Path,
) -> None:
    database, port = tmp_path / "encore.db", free_port()
    receiver = f"http://127.0.0.1:{port}/webhooks/apiframe_v2"
    async with FakeDiscord() as discord, FakeApiframeV2(KEY) as apiframe:
        apiframe.route_webhooks(PUBLIC, f"http://127.0.0.1:{port}")  # the operator's TLS proxy
        env = bot_process_env(
            discord,
            apiframe,
            database,
            **webhook_env(port, PUBLIC),
        )
        bot = await BotProcess.start(env, tmp_path)
        await discord.invoke_command(
            "generate", {"lyrics": "[Verse]\nwe start from nothing", "style": "folk", "title": "Seed", "model": "V5"}
        )
        generate = await apiframe.wait_for_submit()
        assert generate.json["webhookUrl"] == f"{PUBLIC}/webhooks/apiframe_v2"
        assert generate.json["sunoParams"]["model_version"] == "V5" and generate.json["sunoParams"]["custom_mode"]
        await eventually(lambda: (rows := tasks(database)) and rows[0]["status"] == "submitted", what="the submit")

        forged: dict[str, Any] = {
            "event": "completed",
            "jobId": generate.task_id,
            "status": "COMPLETED",
            "progress": 100,
            "result": {"tracks": [{"id": str(uuid.uuid4()), "audioUrl": apiframe.audio_url("forged"), "duration": 9}]},
        }
        raw = json.dumps(forged).encode()
        other = json.dumps({**forged, "progress": 99}).encode()
        assert await post_raw(receiver, raw, {}) == 401
        assert await post_raw(receiver, raw, {"X-Webhook-Signature": signature("afk_someone-else", raw)}) == 401
        assert await post_raw(receiver, raw, {"X-Webhook-Signature": signature(KEY, other)}) == 401
        assert await post_raw(receiver, raw, {"X-Webhook-Signature": "0" * 64}) == 401
        # The signature is checked before the body is parsed: unsigned junk is a 401, signed junk a 400.
        assert await post_raw(receiver, b"{not json", {"X-Webhook-Signature": "0" * 64}) == 401
        assert await post_raw(receiver, b"{not json", {"X-Webhook-Signature": signature(KEY, b"{not json")}) == 400
        assert tasks(database)[0]["status"] == "submitted"

        apiframe.finish(generate.task_id)
        delivery = await apiframe.wait_for_webhook(generate.task_id)
        assert delivery.response_status == 200
        first = await discord.wait_for_message(CHANNEL_ID, is_result)
        await assert_result_message(discord, apiframe, first)
        assert "forged" not in str(first.embeds)

        clip = clip_ids(first)[0]
        length = apiframe.tracks[clip][2]
        other_model = await discord.invoke_command("extend", {"song": clip, "at": "0:30", "lyrics": "x", "model": "V4"})
        assert "made with V5" in (await other_model.wait_original(lambda m: not m.loading)).content
        past = await discord.invoke_command("extend", {"song": clip, "at": str(int(length) + 5), "lyrics": "x"})
        assert "past the end of the song" in (await past.wait_original(lambda m: not m.loading)).content
        assert len(apiframe.submits) == 1 and apiframe.credits == 1000 - 11

        await discord.invoke_command("extend", {"song": clip, "lyrics": "one more", "style": "sea", "title": "Ahoy"})
        extend = await apiframe.wait_for_submit()
        assert extend.json["parentJobId"] == generate.task_id and extend.json["trackId"] == clip
        assert 0 < length - extend.json["continueAt"] < 0.1 + 1e-9  # from the end: just inside it
        assert "model_version" not in extend.json and extend.json["webhookUrl"] == generate.json["webhookUrl"]
        apiframe.finish(extend.task_id)
        second = await discord.wait_for_message(CHANNEL_ID, lambda m: is_result(m) and m.id != first.id)
        await assert_result_message(discord, apiframe, second)
        assert await bot.terminate() == 0
    assert [row["status"] for row in tasks(database)] == ["delivered", "delivered"]
    assert all(d.response_status == 200 for d in apiframe.webhooks)


async def test_polled_without_an_https_url_models_newest_first_and_a_409_told_plainly(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeApiframeV2(KEY) as apiframe:
        parent = apiframe.seed_job(model="V4_5", durations=(100.0, 100.0))
        env = {**provider_env(apiframe), "PUBLIC_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}"}
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", env)):
            choices = await discord.autocomplete("generate", {}, focused="model")
            assert [choice["value"] for choice in choices] == ["V5_5", "V5", "V4_5PLUS", "V4_5ALL", "V4_5", "V4"]
            await discord.invoke_command("generate", {"prompt": "a sea shanty about servers"})
            generate = await apiframe.wait_for_submit()
            assert "webhookUrl" not in generate.json
            assert generate.json["sunoParams"] == {
                "custom_mode": False,
                "instrumental": False,
                "model_version": "V4_5PLUS",
            }
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            await assert_result_message(discord, apiframe, result)
            assert len([r for r in apiframe.requests if r.path.startswith("/v2/jobs/")]) >= 3

            track = parent.clip_ids[0]
            command = await discord.invoke_command(
                "extend", {"song": track, "task": parent.task_id, "at": "2:00", "lyrics": "too late"}
            )
            told = await command.wait_original(ever_said("past the end of that track"))
            assert "pick an earlier `at`" in told.content or any("earlier" in e.content for e in told.edits)
            assert len(apiframe.submits) == 1 and apiframe.credits == 1000 - 11


async def test_a_failed_job_is_told_in_the_channel_with_apiframe_s_reason(tmp_path: Path) -> None:
    async with FakeApiframeV2(KEY) as apiframe:
        notice = await failed_generation_notice(apiframe, tmp_path / "encore.db", "Suno flagged the prompt")
        assert "Suno flagged the prompt" in notice.content and apiframe.credits == 1000  # refunded
