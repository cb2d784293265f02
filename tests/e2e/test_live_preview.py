"""While a task runs, the requester's reply links the audio the provider already streams and shows a progress bar;
the result itself is still posted only on completion, with the final files."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from tests.e2e.harness import PROVIDER_KEY, is_result, provider_env, running_bot, settings_for
from tests.e2e.test_extend_flow import CLIP
from tests.fakes.discord import CHANNEL_ID, FakeDiscord, InteractionRecord
from tests.fakes.providers import FakeApiframe, FakeSunoApi


def shown(command: InteractionRecord) -> list[str]:
    """Every text the requester's reply showed, oldest first."""
    original = command.original
    return [version.content for version in original.edits] + [original.content] if original else []


async def test_apiframe_progress_has_a_bar_and_links_each_clip_while_it_is_made(tmp_path: Path) -> None:
    parent, song = str(uuid.uuid4()), str(uuid.uuid4())
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        apiframe.seed_task(parent, songs=[song])
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", provider_env(apiframe))):
            command = await discord.invoke_command("extend", {"song": song, "task": parent, "at": "30", "prompt": "x"})
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            await command.wait_original(lambda message: "posted in the channel" in message.content)
            texts = shown(command)
            running = [text for text in texts if "generating" in text]
            assert any("generating ▰▰▱▱▱▱▱▱▱▱ 20%" in text for text in running)
            assert any("generating ▰▰▰▰▰▰▰▰▰▱ 90%" in text for text in running)
            clips = [str(embed["url"]).rsplit("/", 1)[1] for embed in result.embeds]
            links = re.findall(r"\[clip (\d)\]\((http[^)]+)\)", running[0])
            assert "🎧 Listen while it is made" in running[0]
            assert sorted(url for _, url in links) == sorted(apiframe.preview_url(clip) for clip in clips)
            mp3s = [attachment.data for attachment in result.attachments if attachment.filename.endswith(".mp3")]
            assert sorted(mp3s) == sorted(apiframe.cdn_bytes(clip) for clip in clips)  # the final files


async def test_sunoapi_streaming_links_the_preview_without_a_percentage(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=0.05, poll_per_second=50) as suno,
    ):
        suno.set_script(None, ["submitted", "queued", "streaming", "streaming", "complete"])
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", provider_env(suno))):
            command = await discord.invoke_command("extend", {"song": CLIP, "at": "30", "lyrics": "la"})
            await discord.wait_for_message(CHANNEL_ID, is_result)
            await command.wait_original(lambda message: "posted in the channel" in message.content)
            streaming = [text for text in shown(command) if "generating" in text]
            assert streaming and all("%" not in text for text in streaming)
            assert all(text.count("/cdn/stream/") == 2 for text in streaming)
