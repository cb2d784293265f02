"""The Whole song button end to end: real tone MP3s through the provider fake, the real bot, the fake Discord;
the posted mp3 is decoded and each part's tone, order and cut point checked, with its tags, cover and waveform."""

from __future__ import annotations

import io
import itertools
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from tests.e2e.harness import PROVIDER_KEY, eventually, provider_env, running_bot, settings_for
from tests.e2e.test_result_buttons import reply_text
from tests.fakes.cdn import FakeSunoCdn
from tests.fakes.discord import CHANNEL_ID, OTHER_USER_ID, OWNER_ID, USER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import JPEG_BYTES, FakeSunoApi
from tests.support.audio import (
    ToneBank,
    decode_mono,
    dominant_frequency,
    id3_tags,
    mp3_header,
    rms,
    tone_bytes,
    tone_level,
)

PART_SECONDS = 8.0
CUTS = (5.0, 4.0)
TOLERANCE = 0.05
ROOT = "3f2a1c9b-1111-4222-8333-444455556666"


def is_whole_song(message: StoredMessage) -> bool:
    return message.content.startswith("🎼 The whole song")


def new_result(seen: list[StoredMessage]) -> Callable[[StoredMessage], bool]:
    known = {message.id for message in seen}
    return lambda message: message.content.startswith("🎶") and message.id not in known  # attached or linked


def first_clip(result: StoredMessage) -> str:
    return str(result.embeds[0]["url"]).rsplit("/", 1)[1]


@dataclass
class Chain:
    results: list[StoredMessage]
    clips: list[str]


async def make_chain(discord: FakeDiscord, start: str | None = None) -> Chain:
    """c0 (a new song, or `start`, a Suno song Encore never posted) →(5 s) c1 →(4 s) c2, by three members."""
    results: list[StoredMessage] = []
    clips = [] if start is None else [start]
    if start is None:
        await discord.invoke_command("generate", {"prompt": "a calm tone", "title": "Tone"})
        results.append(await discord.wait_for_message(CHANNEL_ID, new_result(results)))
        clips.append(first_clip(results[-1]))
    for cut, user, title in zip(CUTS, (OTHER_USER_ID, OWNER_ID), ("Tone II", "Tone III"), strict=True):
        await discord.invoke_command(
            "extend", {"song": clips[-1], "at": str(cut), "lyrics": "la", "title": title}, user_id=user
        )
        results.append(await discord.wait_for_message(CHANNEL_ID, new_result(results)))
        clips.append(first_clip(results[-1]))
    return Chain(results, clips)


def decoded(message: StoredMessage) -> tuple[npt.NDArray[np.float32], int, Path]:
    (audio,) = [attachment for attachment in message.attachments if attachment.filename.endswith(".mp3")]
    path = Path(tempfile.mkdtemp()) / audio.filename
    path.write_bytes(audio.data)
    samples, rate = decode_mono(path)
    return samples, rate, path


def assert_parts(samples: npt.NDArray[np.float32], rate: int, tones: list[float]) -> None:
    """Each part plays its own tone in order, the switch sits on each cut point, and the seams are crossfaded."""
    seams = [CUTS[0], CUTS[0] + CUTS[1]]
    bounds = [0.0, *seams, len(samples) / rate]
    for (start, end), tone in zip(itertools.pairwise(bounds), tones, strict=True):
        middle = samples[int((start + 0.2) * rate) : int((end - 0.2) * rate)]
        assert abs(dominant_frequency(middle, rate) - tone) < 5, (start, end, tone)
    window = int(0.01 * rate)
    for seam, before, after in zip(seams, tones, tones[1:], strict=False):
        times = np.arange(seam - 0.1, seam + 0.1, 0.002)
        amplitudes = [tone_level(samples[int(t * rate) : int(t * rate) + window], rate, after) for t in times]
        crossing = float(times[next(i for i, amp in enumerate(amplitudes) if amp >= 0.25)]) + 0.005
        assert abs(crossing - seam) <= TOLERANCE, (seam, crossing)
        levels = [
            rms(samples[int(t * rate) : int(t * rate) + window]) for t in np.arange(seam - 0.03, seam + 0.04, 0.01)
        ]
        assert min(levels) > 0.75 * 0.5 / np.sqrt(2) and max(levels) < 1.25 * 0.5 / np.sqrt(2), levels  # equal power
        assert tone_level(samples[int((seam - 0.05) * rate) : int((seam - 0.04) * rate)], rate, before) > 0.4


async def test_the_whole_song_of_a_three_part_chain_is_posted_once_as_a_reply(tmp_path: Path) -> None:
    bank = ToneBank(PART_SECONDS)
    async with FakeDiscord() as discord, FakeSunoApi(PROVIDER_KEY, submit_interval=0.05, poll_per_second=50) as suno:
        suno.audio_factory = bank
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(suno))
        async with running_bot(discord, settings) as running:
            chain = await make_chain(discord)
            last = chain.results[-1]
            downloads = len(suno.calls(".mp3"))
            press = await discord.click_button(last.id, f"encore:whole:{chain.clips[-1]}")
            whole = await discord.wait_for_message(CHANNEL_ID, is_whole_song)
            assert f"/{CHANNEL_ID}/{whole.id}" in await reply_text(press)
            assert whole.reply_to == last.id
            assert len(suno.calls(".mp3")) == downloads  # every part came from Encore's own copy of its post

            samples, rate, path = decoded(whole)
            assert abs(len(samples) / rate - (CUTS[0] + CUTS[1] + PART_SECONDS)) <= TOLERANCE
            assert_parts(samples, rate, [bank.freq[clip] for clip in chain.clips])
            tags = id3_tags(path)
            assert str(tags["TIT2"]) == "Tone III" and str(tags["TPE1"]) == "alice, bob, owner"
            assert str(tags["TENC"]) == "Encore" and tags.getall("APIC")[0].data == JPEG_BYTES
            assert mp3_header(path).bitrate == 192_000

            (embed,) = whole.embeds
            assert embed["image"]["url"] == "attachment://waveform.png"
            assert embed["footer"]["text"].startswith("Audio: frames copied from the parts unchanged, 2 seams")
            picture = Image.open(io.BytesIO(whole.attachment("waveform.png").data))
            assert picture.format == "PNG" and picture.size == (1200, 300)
            fields = {field["name"]: field["value"] for field in embed["fields"]}
            assert fields["Made by"] == f"<@{USER_ID}> <@{OTHER_USER_ID}> <@{OWNER_ID}>"
            assert fields["Length"] == "0:17" and fields["Parts"] == "3"
            assert [line.split("`")[1] for line in embed["description"].split("\n")] == [
                "0:00–0:05",
                "0:05–0:09",
                "0:09–0:17",
            ]
            assert whole.allowed_mentions == {"parse": []}
            assert [button["custom_id"] for row in whole.components for button in row["components"]] == [
                f"encore:wextend:{chain.clips[-1]}",
                f"encore:listen-whole:{chain.clips[-1]}",
            ]

            again = await discord.click_button(last.id, f"encore:whole:{chain.clips[-1]}", user_id=OTHER_USER_ID)
            assert "already posted: https://discord.com/channels/" in await reply_text(again)
            assert f"/{whole.id}" in await reply_text(again)
            assert len([m for m in discord.messages(CHANNEL_ID) if is_whole_song(m)]) == 1
            record = await running.bot.store.get_whole_song(chain.clips[-1])
            assert record is not None and record.message_id == whole.id


async def test_a_chain_whose_original_encore_never_posted_gets_it_from_suno_cdn(tmp_path: Path) -> None:
    bank = ToneBank(PART_SECONDS)
    async with (
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[ROOT], submit_interval=0.05, poll_per_second=50) as suno,
        FakeSunoCdn() as cdn,
    ):
        suno.audio_factory = bank
        cdn.put(ROOT, tone_bytes(330.0, PART_SECONDS))
        env = {**provider_env(suno), "SUNO_CDN_BASE_URL": cdn.base_url}
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", env)):
            chain = await make_chain(discord, start=ROOT)
            press = await discord.click_button(chain.results[-1].id, f"encore:whole:{chain.clips[-1]}")
            whole = await discord.wait_for_message(CHANNEL_ID, is_whole_song)
            assert "Here is the whole song" in await reply_text(press)
            samples, rate, _ = decoded(whole)
            assert abs(len(samples) / rate - (CUTS[0] + CUTS[1] + PART_SECONDS)) <= TOLERANCE
            assert_parts(samples, rate, [330.0, bank.freq[chain.clips[1]], bank.freq[chain.clips[2]]])
            assert cdn.requests == [f"/{ROOT}.mp3"]
            assert "a Suno song Encore did not make" in whole.embeds[0]["description"].split("\n")[0]


def whole_songs(discord: FakeDiscord) -> list[StoredMessage]:
    return [message for message in discord.messages(CHANNEL_ID) if is_whole_song(message)]


async def test_the_whole_songs_extend_button_reads_at_on_the_whole_timeline(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeSunoApi(PROVIDER_KEY, submit_interval=0.05, poll_per_second=50) as suno:
        suno.audio_factory = ToneBank(PART_SECONDS)
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", provider_env(suno))) as running:
            chain = await make_chain(discord)
            before = await (await discord.invoke_command("song", {"song": chain.clips[-1]})).wait_original()
            assert "image" not in before.embeds[0] and f"encore:whole:{chain.clips[-1]}" in str(before.components)
            await discord.click_button(chain.results[-1].id, f"encore:whole:{chain.clips[-1]}")
            whole = await discord.wait_for_message(CHANNEL_ID, is_whole_song)
            shown = await (await discord.invoke_command("song", {"song": chain.clips[-1]})).wait_original()
            assert shown.embeds[0]["image"]["url"] == "attachment://waveform.png"
            assert shown.attachment("waveform.png").data.startswith(b"\x89PNG")
            fields = {field["name"]: field["value"] for field in shown.embeds[0]["fields"]}
            assert fields["Whole song"].endswith(f"/{CHANNEL_ID}/{whole.id})")
            form = f"encore:whole-extend-form:{chain.clips[-1]}"
            modals = running.bot._connection._view_store._modals

            async def extend_at(at: str) -> str:
                opener = await discord.click_button(whole.id, f"encore:wextend:{chain.clips[-1]}")
                await opener.wait_response()
                await eventually(lambda: form in modals, what="the whole song's form")
                return await reply_text(await discord.submit_modal(form, {"at": at, "prompt": "a new bridge"}))

            past = await extend_at("0:30")
            assert "past the end of the whole song (0:17)" in past
            assert len(suno.submits) == 3
            inside = await extend_at("0:07")
            assert "0:07 on the whole song is 0:02 into part 2" in inside and "a new branch" in inside
            await eventually(lambda: len(suno.submits) == 4, what="the branch's submission")
            assert suno.submits[-1].json["continue_clip_id"] == chain.clips[1]
            # Copied frames place part 2 on the frame grid, at most half a frame (13 ms) from its cut.
            assert suno.submits[-1].json["continue_at"] == pytest.approx(2.0, abs=0.013)
            last_part = await extend_at("16")
            assert "0:16 on the whole song is 0:07 into part 3" in last_part and "new branch" not in last_part
            await eventually(lambda: len(suno.submits) == 5, what="the extension's submission")
            assert suno.submits[-1].json["continue_clip_id"] == chain.clips[2]
            assert suno.submits[-1].json["continue_at"] == pytest.approx(7.0, abs=0.013)


async def test_two_quick_presses_build_it_once(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeSunoApi(PROVIDER_KEY, submit_interval=0.05, poll_per_second=50) as suno:
        suno.audio_factory = ToneBank(PART_SECONDS)
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", provider_env(suno))):
            chain = await make_chain(discord)
            cover = f"/cdn/image/{chain.clips[-1]}_large.jpeg"  # sunoapi's large cover
            seen = len(suno.calls(cover))
            suno.inject(cover, status=None, delay=1.0)  # hold the first build at its last download
            first = await discord.click_button(chain.results[-1].id, f"encore:whole:{chain.clips[-1]}")
            await eventually(lambda: len(suno.calls(cover)) > seen, what="the first build's cover download")
            second = await discord.click_button(
                chain.results[-1].id, f"encore:whole:{chain.clips[-1]}", user_id=OTHER_USER_ID
            )
            assert "being built" in await reply_text(second)
            assert "Here is the whole song" in await reply_text(first)
            assert len(whole_songs(discord)) == 1


async def test_a_small_upload_limit_lowers_the_bitrate(tmp_path: Path) -> None:
    async with (
        FakeDiscord(upload_limit=300_000) as discord,
        FakeSunoApi(PROVIDER_KEY, submit_interval=0.05, poll_per_second=50) as suno,
    ):
        suno.audio_factory = ToneBank(PART_SECONDS)
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", provider_env(suno))):
            chain = await make_chain(discord)
            discord.inject("POST", rf"/channels/{CHANNEL_ID}/messages", 413, {"code": 40005, "message": "too large"})
            refused = await discord.click_button(chain.results[-1].id, f"encore:whole:{chain.clips[-1]}")
            assert "Discord refused the whole song" in await reply_text(refused)
            assert not whole_songs(discord)
            press = await discord.click_button(chain.results[-1].id, f"encore:whole:{chain.clips[-1]}")
            assert "Here is the whole song" in await reply_text(press)
            (whole,) = whole_songs(discord)
            _, _, path = decoded(whole)
            assert mp3_header(path).bitrate == 128_000 and path.stat().st_size <= 300_000
            assert {field["name"]: field["value"] for field in whole.embeds[0]["fields"]}["Quality"] == "MP3 128 kbit/s"


async def test_a_song_too_large_even_at_the_lowest_bitrate_is_refused_clearly(tmp_path: Path) -> None:
    async with (
        FakeDiscord(upload_limit=150_000) as discord,
        FakeSunoApi(PROVIDER_KEY, submit_interval=0.05, poll_per_second=50) as suno,
    ):
        suno.audio_factory = ToneBank(PART_SECONDS)
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", provider_env(suno))):
            chain = await make_chain(discord)
            for _ in range(2):  # refused, and not stuck: the next press tries (and explains) again
                press = await discord.click_button(chain.results[-1].id, f"encore:whole:{chain.clips[-1]}")
                text = await reply_text(press)
                assert "even at 96 kbit/s, over the 0.1 MB limit" in text, text
            assert not whole_songs(discord)


async def test_a_missing_source_names_the_part_and_posts_nothing(tmp_path: Path) -> None:
    bank = ToneBank(PART_SECONDS)
    async with (
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, submit_interval=0.05, poll_per_second=50) as suno,
        FakeSunoCdn() as cdn,
    ):
        suno.audio_factory = bank
        env = {**provider_env(suno), "SUNO_CDN_BASE_URL": cdn.base_url}
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", env)):
            chain = await make_chain(discord)
            broken = b"<!doctype html><html><body>gone</body></html>"
            suno.set_audio(chain.clips[0], broken)
            shutil.rmtree(tmp_path / "audio-cache")  # Encore's own copies are gone (evicted, or another host's)
            middle = await discord.click_button(chain.results[1].id, f"encore:whole:{chain.clips[1]}")
            assert "Here is the whole song" in await reply_text(middle)  # c0 from its result message instead
            read_back = [
                r for r in discord.requests if r.method == "GET" and r.path.endswith(f"/{chain.results[0].id}")
            ]
            assert read_back, "the result message was fetched again for a fresh attachment URL"

            task_id = int(chain.results[1].content.rsplit("#", 1)[1])
            deleted = await discord.click_button(chain.results[1].id, f"encore:delete:{task_id}", user_id=OTHER_USER_ID)
            assert "Deleted" in await reply_text(deleted)
            suno.set_audio(chain.clips[1], broken)
            shutil.rmtree(tmp_path / "audio-cache")
            for _ in range(2):
                press = await discord.click_button(chain.results[2].id, f"encore:whole:{chain.clips[2]}")
                text = await reply_text(press)
                assert f"part 2 (“Tone II”, {chain.clips[1][:8]})" in text, text
                assert (
                    "the provider's link: the server sent audio/mpeg that does not look like audio" in text
                    and "Suno's CDN: the audio server answered HTTP 404" in text
                )
            assert len(whole_songs(discord)) == 1

            suno.set_audio(chain.clips[1], tone_bytes(bank.freq[chain.clips[1]], PART_SECONDS))
            press = await discord.click_button(chain.results[2].id, f"encore:whole:{chain.clips[2]}")
            assert "Here is the whole song" in await reply_text(press)
            assert len(whole_songs(discord)) == 2


async def test_with_the_auto_setting_every_extensions_whole_song_follows_its_result(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeSunoApi(PROVIDER_KEY, submit_interval=0.05, poll_per_second=50) as suno:
        suno.audio_factory = ToneBank(PART_SECONDS)
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", provider_env(suno))):
            changed = await discord.invoke_command(
                "encore", {"whole_song_auto": True}, subcommand="settings", user_id=OWNER_ID
            )
            saved = await changed.wait_original(lambda m: not m.loading)
            fields = {field["name"]: field["value"] for field in saved.embeds[0]["fields"]}
            assert fields["Whole songs"] == "posted after every extension, unasked"
            chain = await make_chain(discord)
            extension_tasks = chain.results[1:]
            await discord.wait_until(lambda: len(whole_songs(discord)) == 2 * len(extension_tasks), what="4 posts")
            posted = whole_songs(discord)
            assert sorted(message.reply_to or 0 for message in posted) == sorted(
                result.id for result in extension_tasks for _ in range(2)
            )
            assert not any(message.reply_to == chain.results[0].id for message in posted)  # a new song is whole
            press = await discord.click_button(chain.results[-1].id, f"encore:whole:{chain.clips[-1]}")
            assert "already posted" in await reply_text(press)
            assert len(whole_songs(discord)) == 4


async def test_an_automatic_whole_song_that_cannot_be_made_says_so_under_its_result(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[ROOT], submit_interval=0.05, poll_per_second=50) as suno,
    ):
        suno.audio_factory = ToneBank(PART_SECONDS)
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", provider_env(suno))):
            changed = await discord.invoke_command(
                "encore", {"whole_song_auto": True}, subcommand="settings", user_id=OWNER_ID
            )
            await changed.wait_original(lambda m: not m.loading)  # saved
            await discord.invoke_command("extend", {"song": ROOT, "at": str(CUTS[0]), "lyrics": "la"})
            result = await discord.wait_for_message(CHANNEL_ID, new_result([]))
            notices = await discord.wait_until(
                lambda: (
                    found
                    if len(found := [m for m in discord.messages(CHANNEL_ID) if m.reply_to == result.id]) == 2
                    else None
                ),
                what="two notices under the result",
            )
            for notice in notices:
                assert notice.content.startswith("⚠️ Encore could not make the whole song:")
                assert "could not get the audio of part 1" in notice.content  # the original: no CDN here
                assert notice.allowed_mentions == {"parse": []}
            assert not whole_songs(discord)
