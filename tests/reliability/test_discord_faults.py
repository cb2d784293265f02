"""Discord faults injected at the fake Discord, seen through the real bot: rate limits, upload limits, expired
interaction tokens, a channel that is gone or closed, and interactions answered in time while everything is slow."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.models import TaskStatus
from tests.e2e.harness import PROVIDER_KEY, eventually, running_bot
from tests.fakes.discord import CHANNEL_ID, OWNER_ID, USER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeApiframe
from tests.reliability.harness import (
    apiframe_settings,
    extend_options,
    fast_sunoapi,
    is_result,
    rows,
    sunoapi_settings,
    tasks,
    write_lock_held,
)

MESSAGES = rf"/channels/{CHANNEL_ID}/messages"


def audio_links(message: StoredMessage) -> list[str]:
    return [field["value"] for embed in message.embeds for field in embed["fields"] if field["name"] == "Audio"]


async def test_a_rate_limited_post_waits_and_posts(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        discord.inject("POST", MESSAGES, 429, times=2)
        async with running_bot(discord, sunoapi_settings(discord, suno, tmp_path / "encore.db")):
            await discord.invoke_command("extend", extend_options("patience"))
            await discord.wait_for_message(CHANNEL_ID, is_result)
        posts = [r.status for r in discord.requests if r.method == "POST" and r.path == MESSAGES]
        assert posts == [429, 429, 200]
        assert len([m for m in discord.messages(CHANNEL_ID) if is_result(m)]) == 1


@pytest.mark.parametrize("fault", ["small upload limit", "413 on upload"])
async def test_audio_too_large_for_the_channel_is_posted_as_links(tmp_path: Path, fault: str) -> None:
    async with FakeDiscord(upload_limit=100_000 if fault == "small upload limit" else 10 * 1024**2) as discord:
        async with fast_sunoapi() as suno:
            if fault == "413 on upload":
                discord.inject("POST", MESSAGES, 413, {"message": "Request entity too large", "code": 40005})
            async with running_bot(discord, sunoapi_settings(discord, suno, tmp_path / "encore.db")):
                await discord.invoke_command("extend", extend_options("too big"))
                result = await discord.wait_for_message(CHANNEL_ID, is_result)
            clips = [embed["footer"]["text"].rsplit("clip ", 1)[1] for embed in result.embeds]
        assert not [a for a in result.attachments if a.filename.endswith(".mp3")]
        assert [link.split("(")[1].split(")")[0] for link in audio_links(result)] == [suno.audio_url(c) for c in clips]
        assert [row["status"] for row in tasks(tmp_path / "encore.db")] == ["delivered"]


async def test_an_expired_interaction_token_still_gets_the_result_in_the_channel(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        suno.set_script(None, ["submitted"])
        async with running_bot(discord, sunoapi_settings(discord, suno, tmp_path / "encore.db")):
            command = await discord.invoke_command("extend", extend_options("hours later"))
            submit = await suno.wait_for_submit()
            await command.wait_original(lambda message: "task #1" in message.content)
            discord.expire_interaction_token(command.token)
            suno.set_script(submit.task_id, ["complete"])
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            await eventually(lambda: tasks(tmp_path / "encore.db")[0]["status"] == "delivered", what="delivered")
        assert result.interaction is None and f"<@{USER_ID}>" in result.content


@pytest.mark.parametrize("fault", ["deleted channel", "missing permission"])
async def test_an_unreachable_channel_keeps_the_song_and_tells_the_requester_by_dm(tmp_path: Path, fault: str) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        suno.set_script(None, ["submitted"])
        async with running_bot(discord, sunoapi_settings(discord, suno, database)):
            channel = await discord.add_channel("songs")
            await discord.invoke_command("extend", extend_options("nowhere to go"), channel_id=channel)
            submit = await suno.wait_for_submit()
            if fault == "deleted channel":
                await discord.delete_channel(channel)
            else:
                await discord.deny_permission(channel, "send_messages")
            suno.set_script(submit.task_id, ["complete"])
            dm = await discord.wait_for_dm(USER_ID)
            [task] = await eventually(lambda: [t for t in tasks(database) if t["status"] != "succeeded"], what="end")
        undeliverable = getattr(TaskStatus, "UNDELIVERABLE", TaskStatus.FAILED)
        assert task["status"] == undeliverable and "could not post" in task["error"]
        songs = rows(database, "SELECT clip_id FROM songs WHERE task_id = ?", (task["id"],))
        assert len(songs) == 2
        assert all(f"https://suno.com/song/{song['clip_id']}" in dm.content for song in songs)
        assert not [m for m in discord.messages(channel) if is_result(m)]


async def test_interactions_are_answered_in_time_while_the_provider_hangs(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        suno.inject("/extend-music", status=None, delay=30)
        async with running_bot(discord, sunoapi_settings(discord, suno, tmp_path / "encore.db")):
            first = await discord.invoke_command("extend", extend_options("hanging"))
            await eventually(lambda: suno.calls("/extend-music"), what="the hanging submission")
            second = await discord.invoke_command("extend", extend_options("meanwhile"))
            await second.wait_original(lambda message: "task #2" in message.content)
            choices = await discord.autocomplete("extend", {"song": ""}, focused="song")
            await suno.close()  # ends the hanging call, so the bot stops without waiting out its grace period
        assert choices == []
        assert all(i.latency is not None and i.latency < 3 for i in (first, second, discord.interactions[-1]))


async def test_interactions_are_answered_in_time_while_the_database_is_busy(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        async with running_bot(discord, sunoapi_settings(discord, suno, database)):
            with write_lock_held(database):
                command = await discord.invoke_command("extend", extend_options("waiting for the lock"))
                await command.wait_response()
                await discord.autocomplete("extend", {"song": ""}, focused="song")
                assert rows(database, "SELECT COUNT(*) AS n FROM tasks")[0]["n"] == 0
            await command.wait_original(lambda message: "task #1" in message.content)
        assert all(i.latency is not None and i.latency < 3 for i in discord.interactions)


async def test_a_database_locked_past_its_timeout_is_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        async with running_bot(discord, sunoapi_settings(discord, suno, database)):
            with write_lock_held(database):
                command = await discord.invoke_command("extend", extend_options("locked out"))
                reply = await command.wait_original(lambda message: "went wrong" in message.content, timeout=15)
        assert reply.ephemeral and "nothing was queued or charged" in reply.content
        assert suno.submits == []


async def test_a_result_button_whose_write_fails_answers_in_plain_words(tmp_path: Path) -> None:
    """Reroll writes a task: with the database locked past its timeout the press is answered, not left thinking."""
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        async with running_bot(discord, sunoapi_settings(discord, suno, database)):
            await discord.invoke_command("extend", extend_options("once"))
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            task_id = int(result.content.rsplit("#", 1)[1])
            await eventually(lambda: tasks(database)[0]["status"] == TaskStatus.DELIVERED, what="delivered")
            with write_lock_held(database):
                reroll = await discord.click_button(result.id, f"encore:reroll:{task_id}")
                reply = await reroll.wait_original(lambda message: not message.loading, timeout=15)
        assert reply.ephemeral and reply.content == "⚠️ Something went wrong on Encore's side; try again in a moment."
        assert len(suno.submits) == 1 and len(tasks(database)) == 1


async def test_settings_and_cancel_answer_before_they_write_to_a_locked_database(tmp_path: Path) -> None:
    """Both write: each is answered within Discord's 3 s first, then says plainly that it could not be done."""
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        apiframe.inject("/suno-imagine", status=None, delay=60)  # the first submission hangs: task 2 stays queued
        settings = apiframe_settings(discord, apiframe, database, MAX_ACTIVE_TASKS_PER_USER="0")
        async with running_bot(discord, settings):
            for number in (1, 2):
                command = await discord.invoke_command("generate", {"prompt": f"song {number}"})
                await command.wait_original(lambda message: "task #" in message.content)
            # A provider call changes nothing at the fake Discord, which `discord.wait_until` waits on: poll it.
            await eventually(lambda: apiframe.calls("/suno-imagine"), what="the hanging submission")
            queue = await discord.invoke_command("queue", {})
            listed = await queue.wait_original()
            with write_lock_held(database):
                saving = await discord.invoke_command(
                    "encore", {"star_threshold": 5}, subcommand="settings", user_id=OWNER_ID
                )
                cancel = await discord.click_button(listed.id, "encore:cancel:2")
                await saving.wait_response()
                await cancel.wait_response()
                not_saved = await saving.wait_original(lambda message: "went wrong" in message.content, timeout=15)
                not_cancelled = await cancel.wait_followup(lambda message: "could not cancel" in message.content)
            assert not_saved.ephemeral and not_cancelled.ephemeral
            assert all(i.latency is not None and i.latency < 3 for i in (saving, cancel))
            again = await discord.click_button(listed.id, "encore:cancel:2")
            await again.wait_response()
            await queue.wait_original(lambda message: "Cancelled task #2" in message.content)
            await apiframe.close()  # ends the hanging submission, so the bot stops without waiting out its grace
        [task] = rows(database, "SELECT status FROM tasks WHERE id = 2")
        assert task["status"] == "cancelled"
