"""`/extend audio:` end to end: checks before anything is spent, upload after deferring, extend of the upload."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import PROVIDER_KEY, is_result, provider_env, running_bot, settings_for
from tests.fakes.discord import CHANNEL_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeApiframe, FakeSunoApi
from tests.support.audio import mp3_header

SONG = "3f2a1c9b-0000-4000-8000-000000000001"


def clip_ids(message: StoredMessage) -> list[str]:
    return [embed["url"].rsplit("/", 1)[1] for embed in message.embeds]


async def test_apiframe_extends_an_uploaded_track(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(apiframe))
        track = apiframe.cdn_bytes("a member's demo")
        (tmp_path / "demo.mp3").write_bytes(track)
        length = mp3_header(tmp_path / "demo.mp3").length
        async with running_bot(discord, settings):
            refusals = {
                "exactly one of": {"song": SONG, "audio": ("demo.mp3", track), "prompt": "x"},
                "must be an audio file": {"audio": ("notes.txt", b"la la la"), "prompt": "x"},
                "at most 10 MB": {"audio": ("huge.flac", b"\0" * (10 * 1024 * 1024 + 1)), "prompt": "x"},
            }
            for expected, options in refusals.items():
                refused = await discord.invoke_command("extend", options)
                response = await refused.wait_response()
                assert response.type == 4 and response.data["flags"] == 64 and expected in response.data["content"]
            # Bytes that are not audio are refused before anything reaches the provider (they were once taken as
            # audio of unknown length, and the member asked for `at:`).
            unplayable = await discord.invoke_command("extend", {"audio": ("take 2.wav", b"RIFF...."), "prompt": "x"})
            message = await unplayable.wait_original(lambda m: not m.loading)
            assert message.ephemeral and "could not use your file" in message.content
            assert apiframe.calls("/suno-upload") == [] and apiframe.submits == []

            apiframe.inject("/suno-upload", status=500)
            failed = await discord.invoke_command("extend", {"audio": ("demo.mp3", track), "prompt": "x"})
            failure = await failed.wait_original(lambda m: not m.loading)
            assert (
                "could not upload your track to apiframe" in failure.content and "Nothing was spent" in failure.content
            )
            assert apiframe.submits == []

            command = await discord.invoke_command(
                "extend", {"audio": ("My Demo (final).mp3", track), "prompt": "a big chorus", "title": "Demo+"}
            )
            submit = await apiframe.wait_for_submit()
            (upload,) = [task for task in apiframe.tasks.values() if submit.json["song_id"] in task.clip_ids]
            assert upload.kind == "upload" and upload.request["size"] == len(track)
            assert upload.request["audio_url"].startswith(discord.base_url)  # the attachment's own CDN URL
            assert apiframe.calls("/upload-audio") == []  # an attachment is already public: no media upload
            assert submit.json["from_upload"] is True and "parent_task_id" not in submit.json
            assert abs(submit.json["continue_at"] - length) < 0.01
            assert submit.json["prompt"] == "a big chorus" and submit.json["title"] == "Demo+"
            accepted = await command.wait_original(lambda m: "task #" in m.content)
            assert "the upload [my-demo-final.mp3](" in accepted.content
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            assert "the upload" in result.content

            shown = await discord.invoke_command("song", {"song": clip_ids(result)[0]})
            lineage = (await shown.wait_original()).embeds[0]["description"]
            assert "extension of an uploaded track from 0:" in lineage

            await discord.invoke_command("extend", {"audio": ("demo.mp3", track), "at": "0:05", "prompt": "again"})
            again = await apiframe.wait_for_submit()
            assert again.json["continue_at"] == 5.0 and again.json["song_id"] != submit.json["song_id"]


async def test_sunoapi_answers_that_it_cannot_extend_uploads(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeSunoApi(PROVIDER_KEY) as suno:
        settings = settings_for(
            discord, tmp_path / "encore.db", {"SUNOAPI_KEY": PROVIDER_KEY, "SUNOAPI_BASE_URL": suno.base_url}
        )
        async with running_bot(discord, settings):
            refused = await discord.invoke_command("extend", {"audio": ("demo.mp3", b"ID3"), "lyrics": "la"})
            response = await refused.wait_response()
            assert response.data["flags"] == 64 and "cannot extend uploaded tracks" in response.data["content"]
            assert suno.submits == []
