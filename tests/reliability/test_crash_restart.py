"""Crashes and restarts: SIGKILL the real bot process at each point of a task's life, start it again on the same
database, and check that every task resumes, nothing is submitted twice and every result is posted exactly once.
Also SIGTERM: stop taking commands, finish or park the work in flight, close the database, exit 0."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.harness import eventually
from tests.fakes.discord import CHANNEL_ID, FakeDiscord, RequestRecord, StoredMessage
from tests.fakes.providers import FakeSunoApi
from tests.reliability.harness import (
    CLIP,
    BotProcess,
    closed_cleanly,
    extend_options,
    is_result,
    rows,
    sunoapi_env,
    tasks,
)

DISCORD_TOKEN = "crash-test-discord-token"
PROVIDER_KEY = "crash-test-provider-key"
FINAL = ("delivered", "failed")


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeDiscord, FakeSunoApi]]:
    async with (
        FakeDiscord(token=DISCORD_TOKEN) as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=0.2, poll_per_second=20) as suno,
    ):
        yield discord, suno


def results(discord: FakeDiscord) -> list[StoredMessage]:
    return [message for message in discord.messages(CHANNEL_ID) if is_result(message)]


async def restart_until_done(env: dict[str, str], tmp_path: Path, count: int) -> list[dict[str, object]]:
    """Start a new process on the same database, wait until its `count` tasks are final, stop it cleanly."""
    database = Path(env["DATABASE_PATH"])
    bot = await BotProcess.start(env, tmp_path)
    try:
        done = await eventually(
            lambda: (
                found
                if (found := tasks(database)) and len(found) == count and all(r["status"] in FINAL for r in found)
                else None
            ),
            what=f"{count} final tasks",
        )
    except TimeoutError:
        await bot.kill()
        raise AssertionError(f"tasks did not finish after the restart:\n{bot.output}") from None
    assert await bot.terminate() == 0, bot.output
    return [dict(row) for row in done]


async def test_kill_while_queued_behind_the_submit_limit(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeSunoApi]
) -> None:
    """The second task waits for sunoapi's submit window; it was never sent, so it must be sent after the restart,
    and no earlier than the window allows: the restarted bot counts the first submission too."""
    discord, suno = fakes
    env = sunoapi_env(discord, suno, tmp_path / "encore.db", SUNOAPI_SUBMIT_INTERVAL_SECONDS="3")
    suno.set_script(None, ["submitted"])
    bot = await BotProcess.start(env, tmp_path)
    await discord.invoke_command("extend", extend_options("first"))
    first = await suno.wait_for_submit()
    second = await discord.invoke_command("extend", extend_options("second"))
    await second.wait_original(lambda message: "task #2" in message.content)
    await bot.kill()

    suno.set_script(first.task_id, ["complete"])
    done = await restart_until_done(env, tmp_path, count=2)
    assert [row["status"] for row in done] == ["delivered", "delivered"]
    assert [submit.json["prompt"] for submit in suno.submits] == ["first", "second"]
    assert suno.submits[1].time - suno.submits[0].time >= 3
    assert len(results(discord)) == 2
    assert suno.rate_limit_violations == []


async def test_kill_while_the_submission_is_in_flight_never_pays_twice(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeSunoApi]
) -> None:
    """The provider got the request but Encore never heard back: it may have been charged, so it is not resent."""
    discord, suno = fakes
    env = sunoapi_env(discord, suno, tmp_path / "encore.db")
    suno.inject("/extend-music", status=None, delay=30)
    bot = await BotProcess.start(env, tmp_path)
    await discord.invoke_command("extend", extend_options("maybe charged"))
    await eventually(lambda: suno.calls("/extend-music"), what="the submission at the provider")
    await bot.kill()

    [task] = await restart_until_done(env, tmp_path, count=1)
    assert task["status"] == "failed"
    assert "not sent again to avoid paying twice" in str(task["error"])
    assert len(suno.calls("/extend-music")) == 1
    [notice] = discord.messages(CHANNEL_ID)
    assert notice.content.startswith(f"<@{task['requester_id']}> ❌") and "paying twice" in notice.content


@pytest.mark.parametrize(("provider_step", "status_at_kill"), [("submitted", "submitted"), ("streaming", "running")])
async def test_kill_while_the_provider_works(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeSunoApi], provider_step: str, status_at_kill: str
) -> None:
    discord, suno = fakes
    database = tmp_path / "encore.db"
    env = sunoapi_env(discord, suno, database)
    suno.set_script(None, [provider_step])
    bot = await BotProcess.start(env, tmp_path)
    await discord.invoke_command("extend", extend_options("still working"))
    submit = await suno.wait_for_submit()
    await eventually(lambda: tasks(database)[0]["status"] == status_at_kill, what=status_at_kill)
    await suno.wait_for_poll(submit.task_id)
    await bot.kill()

    suno.set_script(submit.task_id, ["complete"])
    [task] = await restart_until_done(env, tmp_path, count=1)
    assert task["status"] == "delivered"
    assert len(suno.submits) == 1
    [result] = results(discord)
    assert result.id == task["result_message_id"]


async def test_kill_after_success_before_posting(tmp_path: Path, fakes: tuple[FakeDiscord, FakeSunoApi]) -> None:
    """Finished at the provider, audio still downloading: the restart downloads and posts it once."""
    discord, suno = fakes
    database = tmp_path / "encore.db"
    env = sunoapi_env(discord, suno, database)
    suno.inject(".mp3", status=None, delay=30)
    bot = await BotProcess.start(env, tmp_path)
    await discord.invoke_command("extend", extend_options("almost there"))
    await eventually(lambda: suno.calls(".mp3"), what="the audio download")
    assert tasks(database)[0]["status"] == "succeeded"
    await bot.kill()

    [task] = await restart_until_done(env, tmp_path, count=1)
    assert task["status"] == "delivered"
    assert len(suno.submits) == 1
    assert [result.id for result in results(discord)] == [task["result_message_id"]]


async def test_kill_when_half_posted_posts_exactly_once(tmp_path: Path, fakes: tuple[FakeDiscord, FakeSunoApi]) -> None:
    """Discord stored the result but the bot died before hearing so: the same nonce makes the repost a no-op."""
    discord, suno = fakes
    database = tmp_path / "encore.db"
    env = sunoapi_env(discord, suno, database)
    discord.inject("POST", rf"/channels/{CHANNEL_ID}/messages", None, delay=30)
    bot = await BotProcess.start(env, tmp_path)
    await discord.invoke_command("extend", extend_options("half posted"))
    stored = await discord.wait_for_message(CHANNEL_ID, is_result)
    await bot.kill()
    assert tasks(database)[0]["status"] == "succeeded"

    [task] = await restart_until_done(env, tmp_path, count=1)
    assert task["status"] == "delivered"
    assert [result.id for result in results(discord)] == [stored.id] == [task["result_message_id"]]
    posts = [r for r in discord.requests if r.method == "POST" and r.path == f"/channels/{CHANNEL_ID}/messages"]
    assert len(posts) == 2 and {post.json["nonce"] for post in posts} == {stored.nonce}
    assert "🔁" in discord.bot_reactions(stored.id)
    assert len(suno.submits) == 1


async def test_a_half_posted_result_resumed_after_a_long_outage_posts_only_the_missing_parts(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeSunoApi]
) -> None:
    """A result of several messages: the first is posted and recorded, then Discord fails and the bot dies. By the
    restart, Discord has long forgotten the nonce, so only the record of the first part keeps it from a repost."""
    discord, suno = fakes
    database = tmp_path / "encore.db"
    clips = [str(uuid.uuid4()) for _ in range(11)]  # more embeds than one message holds
    suno.set_next_clips(clips)
    messages = rf"/channels/{CHANNEL_ID}/messages"
    discord.inject("POST", messages, None)  # the first part is posted
    discord.inject("POST", messages, 503, times=1000)  # then Discord is down
    env = sunoapi_env(discord, suno, database)
    bot = await BotProcess.start(env, tmp_path)
    await discord.invoke_command("extend", extend_options("two parts"))
    [first] = [await discord.wait_for_message(CHANNEL_ID, is_result)]
    await eventually(
        lambda: rows(database, "SELECT part, message_id FROM result_parts") and len(posts_to(discord, messages)) > 1,
        what="the first part recorded and the second one tried",
    )
    await bot.kill()
    discord.clear_injections()  # Discord is back
    discord.nonce_window = 0.0  # after a long outage: it no longer dedupes by the first part's nonce

    [task] = await restart_until_done(env, tmp_path, count=1)
    assert task["status"] == "delivered" and task["result_message_id"] == first.id
    posted = results(discord)
    assert len(posted) > 1 and posted[0].id == first.id
    assert [embed["footer"]["text"].rsplit("clip ", 1)[1] for m in posted for embed in m.embeds] == clips  # once each
    sent = [post.json["nonce"] for post in posts_to(discord, messages) if post.status == 200]
    assert sent == [message.nonce for message in posted]  # each part sent once, the first before the outage
    recorded = rows(database, "SELECT part, message_id FROM result_parts WHERE task_id = ? ORDER BY part", (1,))
    assert [(row["part"], row["message_id"]) for row in recorded] == list(enumerate(m.id for m in posted))
    assert len(suno.submits) == 1


def posts_to(discord: FakeDiscord, path: str) -> list[RequestRecord]:
    return [r for r in discord.requests if r.method == "POST" and r.path == path]


async def test_sigterm_finishes_deliveries_parks_the_rest_and_exits_cleanly(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeSunoApi]
) -> None:
    discord, suno = fakes
    database = tmp_path / "encore.db"
    env = sunoapi_env(discord, suno, database)
    suno.set_script(None, ["complete"])
    suno.set_script(None, ["streaming"])
    suno.inject(".mp3", status=None, delay=2)
    bot = await BotProcess.start(env, tmp_path)
    await discord.invoke_command("extend", extend_options("delivering"))
    await discord.invoke_command("extend", extend_options("parked"))
    await suno.wait_for_submit()
    parked = await suno.wait_for_submit()
    await eventually(lambda: suno.calls(".mp3") and tasks(database)[1]["status"] == "running", what="work in flight")

    bot.process.send_signal(15)
    await eventually(lambda: any("SIGTERM received" in line for line in bot.lines), what="the signal to be handled")
    refused = await discord.invoke_command("extend", extend_options("too late"))
    reply = await refused.wait_original(lambda message: not message.loading)
    assert "restarting" in reply.content
    assert await bot.wait(30) == 0, bot.output

    assert [row["status"] for row in tasks(database)] == ["delivered", "running"]
    assert len(results(discord)) == 1
    assert closed_cleanly(database)

    suno.set_script(parked.task_id, ["complete"])
    done = await restart_until_done(env, tmp_path, count=2)
    assert [row["status"] for row in done] == ["delivered", "delivered"]
    assert len(suno.submits) == 2 and len(results(discord)) == 2
