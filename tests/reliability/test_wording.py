"""What members read says what happened: a finished answer without usable songs is not called Suno's failure, a
give-up after 10 s says "10 seconds" (not "1 minute(s)"), and a FLAC is posted as `.flac`, never under an `.mp3`
name. The real bot against the provider fakes."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from bot.domain.validation import spoken_duration
from bot.providers.answers import NO_USABLE_SONG
from tests.e2e.harness import PROVIDER_KEY, running_bot
from tests.fakes.discord import CHANNEL_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeApiframe
from tests.reliability.harness import (
    apiframe_settings,
    extend_options,
    fast_sunoapi,
    is_result,
    seeded_apiframe_options,
    sunoapi_settings,
)


def flac_bytes(seconds: float = 2.0, rate: int = 44_100) -> bytes:
    """A real FLAC of a quiet tone, as a provider might serve for a clip."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate)
        stream.layout = "mono"
        samples = (8000 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for packet in (*stream.encode(frame), *stream.encode(None)):
            container.mux(packet)
    return buffer.getvalue()


def is_failure(message: StoredMessage) -> bool:
    return "❌" in message.content


async def test_a_flac_is_posted_under_a_flac_name(tmp_path: Path) -> None:
    flac = flac_bytes()
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        suno.audio_factory = lambda clip: flac
        async with running_bot(discord, sunoapi_settings(discord, suno, tmp_path / "encore.db")):
            await discord.invoke_command("extend", extend_options("lossless"))
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
    audio = [attachment for attachment in result.attachments if not attachment.filename.startswith("cover-")]
    assert audio and all(
        attachment.filename.endswith("-1.flac") or attachment.filename.endswith("-2.flac") for attachment in audio
    ), [attachment.filename for attachment in audio]
    assert all(attachment.data.startswith(b"fLaC") for attachment in audio)


@pytest.mark.parametrize("provider", ["sunoapi", "apiframe"])
async def test_a_finished_answer_without_usable_songs_is_not_called_a_suno_failure(
    tmp_path: Path, provider: str
) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno, FakeApiframe(PROVIDER_KEY) as apiframe:
        fake = suno if provider == "sunoapi" else apiframe
        fake.set_script(None, ["processing" if provider == "apiframe" else "submitted"])
        if provider == "sunoapi":
            settings, options = sunoapi_settings(discord, suno, database), extend_options("no ids")
        else:
            settings, options = apiframe_settings(discord, apiframe, database), seeded_apiframe_options(apiframe)
        async with running_bot(discord, settings):
            await discord.invoke_command("extend", options)
            submit = await fake.wait_for_submit()
            audio = f"{fake.base_url}/audio.mp3"
            if provider == "sunoapi":
                answer = {"code": 200, "status": "complete", "clips": [{"status": "complete", "audio_url": audio}]}
            else:
                answer = {"task_id": submit.task_id, "status": "finished", "songs": [{"audio_url": audio}]}
            fake.answer_raw(submit.task_id, answer)
            notice = await discord.wait_for_message(CHANNEL_ID, is_failure)
    assert NO_USABLE_SONG in notice.content and "reported a failure" not in notice.content, notice.content
    assert "reported an error" not in notice.content


async def test_a_give_up_after_ten_seconds_says_ten_seconds(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        suno.set_script(None, ["submitted"])
        settings = sunoapi_settings(discord, suno, tmp_path / "encore.db", TASK_STALL_TIMEOUT_SECONDS="1")
        async with running_bot(discord, settings):
            await discord.invoke_command("extend", extend_options("stuck"))
            notice = await discord.wait_for_message(CHANNEL_ID, is_failure)
    assert "no progress for 1 second," in notice.content and "minute(s)" not in notice.content, notice.content
    assert [spoken_duration(s) for s in (10, 60, 90, 900, 5400)] == [
        "10 seconds",
        "1 minute",
        "1 minute 30 seconds",
        "15 minutes",
        "1 hour 30 minutes",
    ]
