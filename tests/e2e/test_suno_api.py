"""A self-hosted suno-api end to end through the real bot: `/generate` (a description, and lyrics) and `/extend`
polled by clip ids, Suno's model names newest first, and the instance's refusals told plainly."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.e2e.harness import eventually, failed_generation_notice, is_result, provider_env, running_bot, settings_for
from tests.e2e.test_extend_flow import assert_result_message
from tests.e2e.test_generate import clip_ids, ever_said
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.fakes.suno_api import FakeSunoApiSelfHosted
from tests.reliability.harness import BotProcess, bot_process_env, tasks


async def test_the_real_process_generates_and_extends_through_its_own_suno_api(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, FakeSunoApiSelfHosted("proxy-key") as suno:
        bot = await BotProcess.start(bot_process_env(discord, suno, database), tmp_path)
        await discord.invoke_command("generate", {"prompt": "a sea shanty about servers"})
        generate = await suno.wait_for_submit()
        assert generate.path == "/api/generate" and generate.json["model"] == "chirp-fenix"
        assert suno.requests[0].headers["authorization"] == "Bearer proxy-key"
        first = await discord.wait_for_message(CHANNEL_ID, is_result)
        await assert_result_message(discord, suno, first)
        assert sorted(clip_ids(first)) == sorted(generate.task_id.split(","))
        assert tasks(database)[0]["provider_task_id"] == generate.task_id

        clip = clip_ids(first)[1]
        await discord.invoke_command(
            "extend", {"song": clip, "lyrics": "one more verse", "style": "sea", "title": "Ahoy"}
        )
        extend = await suno.wait_for_submit()
        assert extend.path == "/api/extend_audio" and extend.json["audio_id"] == clip
        assert extend.json["model"] == "chirp-fenix" and extend.json["tags"] == "sea"
        assert 0 < suno.clips[clip][1] - extend.json["continue_at"] < 0.1 + 1e-9  # from the end: just inside it
        second = await discord.wait_for_message(CHANNEL_ID, lambda m: is_result(m) and m.id != first.id)
        await assert_result_message(discord, suno, second)
        assert await bot.terminate() == 0
    assert [row["status"] for row in tasks(database)] == ["delivered", "delivered"]
    # Every poll asked for the clips of at most 10 tasks at once, by their ids.
    assert all(call.path == "/api/get" for call in suno.calls("/api/get"))


async def test_lyrics_go_to_custom_generate_models_are_suno_s_and_refusals_are_told(tmp_path: Path) -> None:
    song = str(uuid.uuid4())
    async with FakeDiscord() as discord, FakeSunoApiSelfHosted(credits=10) as suno:
        suno.seed_clip(song, model="chirp-crow", duration=100.0)
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", provider_env(suno))):
            choices = await discord.autocomplete("generate", {}, focused="model")
            assert [choice["value"] for choice in choices] == [
                "chirp-fenix",
                "chirp-crow",
                "chirp-bluejay",
                "chirp-auk",
                "chirp-v4",
            ]  # not chirp-v3-5, suno-api's own default: Suno retired it
            too_long = await discord.invoke_command(
                "generate", {"lyrics": "l" * 3001, "style": "folk", "title": "T", "model": "chirp-v4"}
            )
            assert "at most 3000" in (await too_long.wait_original(lambda m: not m.loading)).content
            await discord.invoke_command(
                "generate", {"lyrics": "[Verse]\nhello", "style": "folk", "title": "Hi", "model": "chirp-auk"}
            )
            custom = await suno.wait_for_submit()
            assert custom.path == "/api/custom_generate"
            assert (custom.json["prompt"], custom.json["tags"], custom.json["model"]) == (
                "[Verse]\nhello",
                "folk",
                "chirp-auk",
            )
            await discord.wait_for_message(CHANNEL_ID, is_result)

            broke = await discord.invoke_command(
                "extend", {"song": song, "at": "0:30", "lyrics": "la", "model": "chirp-crow"}
            )
            await broke.wait_original(ever_said("no credits left"))
            assert len(suno.submits) == 1
            suno.suno_down = True
            suno.credits = 100
            waiting = await discord.invoke_command("extend", {"song": song, "at": "0:30", "lyrics": "la"})
            await waiting.wait_original(ever_said("retrying"))
            suno.suno_down = False
            extend = await suno.wait_for_submit()
            assert extend.json["audio_id"] == song and extend.json["continue_at"] == 30
            await eventually(lambda: len(suno.submits) == 2)


async def test_clips_that_all_fail_are_told_in_the_channel_with_suno_s_reason(tmp_path: Path) -> None:
    async with FakeSunoApiSelfHosted() as suno:
        notice = await failed_generation_notice(suno, tmp_path / "encore.db", "Suno flagged the prompt")
        assert "Suno flagged the prompt" in notice.content
