"""Whole songs in `/metrics`: the real bot's builds counted as started, posted and failed, by how they were asked
for (a press or the server's auto setting), with their build time and where each part's audio came from."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import PROVIDER_KEY, provider_env, running_bot, settings_for
from tests.e2e.test_result_buttons import reply_text
from tests.e2e.test_whole_song import CUTS, PART_SECONDS, is_whole_song, make_chain, new_result
from tests.fakes.cdn import FakeSunoCdn
from tests.fakes.discord import CHANNEL_ID, OTHER_USER_ID, OWNER_ID, FakeDiscord
from tests.fakes.providers import FakeSunoApi
from tests.support.audio import ToneBank

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(port: int) -> Samples:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_whole_songs_are_counted_by_outcome_trigger_and_part_source(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, submit_interval=0.05, poll_per_second=50) as suno,
        FakeSunoCdn() as cdn,
    ):
        suno.audio_factory = ToneBank(PART_SECONDS)
        env = {**provider_env(suno), "SUNO_CDN_BASE_URL": cdn.base_url, "HTTP_PORT": "0", "WEBHOOK_HOST": "127.0.0.1"}
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", env)) as running:
            assert running.bot.web_server is not None
            port = running.bot.web_server.port
            chain = await make_chain(discord)
            pressed = await discord.click_button(chain.results[1].id, f"encore:whole:{chain.clips[1]}")
            assert "Here is the whole song" in await reply_text(pressed)  # both parts from Encore's own copies

            # Part 2 loses every source: its link serves a page, its post is deleted, the copies and the CDN are gone.
            suno.set_audio(chain.clips[1], b"<!doctype html><html><body>gone</body></html>")
            task_id = int(chain.results[1].content.rsplit("#", 1)[1])
            await reply_text(
                await discord.click_button(chain.results[1].id, f"encore:delete:{task_id}", user_id=OTHER_USER_ID)
            )
            shutil.rmtree(tmp_path / "audio-cache")
            failed = await discord.click_button(chain.results[2].id, f"encore:whole:{chain.clips[2]}")
            assert "could not get the audio of part 2" in await reply_text(failed)

            auto = await discord.invoke_command(
                "encore", {"whole_song_auto": True}, subcommand="settings", user_id=OWNER_ID
            )
            await auto.wait_original(lambda message: not message.loading)
            await discord.invoke_command("extend", {"song": chain.clips[0], "at": str(CUTS[0]), "lyrics": "again"})
            await discord.wait_for_message(CHANNEL_ID, new_result(chain.results))
            # The new extension has two clips: a whole song follows each, on its own.
            await discord.wait_until(lambda: len([m for m in discord.messages(CHANNEL_ID) if is_whole_song(m)]) == 3)
            for _ in range(100):  # a build is counted once its post is recorded, a moment after the message
                samples = await scrape(port)
                if value(samples, "encore_whole_songs_total", outcome="posted", trigger="auto") == 2:
                    break
                await asyncio.sleep(0.05)

    counted = {
        (outcome, trigger): value(samples, "encore_whole_songs_total", outcome=outcome, trigger=trigger)
        for outcome in ("started", "posted", "failed")
        for trigger in ("button", "auto")
    }
    assert counted == {
        ("started", "button"): 2,
        ("posted", "button"): 1,
        ("failed", "button"): 1,
        ("started", "auto"): 2,
        ("posted", "auto"): 2,
        ("failed", "auto"): 0,
    }
    assert value(samples, "encore_whole_song_seconds_count", outcome="posted") == 3
    assert value(samples, "encore_whole_song_seconds_count", outcome="failed") == 1
    # The press: both parts from the cache. The failed press: part 1 downloaded (and kept again), then part 2 had
    # no source. Each automatic one: the original kept by that download, and the new clip kept when posted.
    assert value(samples, "encore_whole_song_parts_total", source="cache") == 6
    assert value(samples, "encore_whole_song_parts_total", source="download") == 1
