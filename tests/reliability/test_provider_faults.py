"""Provider faults injected at the provider fakes, seen through the real bot: transient faults are retried (the
requester sees "retrying") within the documented limits; failures, stalls and a bad key end with one clear message.

A submission is retried only after a refusal (a rate limit): a fault after the request was sent (a 5xx, a reset, an
unreadable answer) may have been accepted and billed, so that task fails as in doubt and is never sent again."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import pytest

from bot.service._context import BAD_KEY_MESSAGE
from tests.e2e.harness import PROVIDER_KEY, eventually, running_bot
from tests.fakes.discord import CHANNEL_ID, USER_ID, FakeDiscord
from tests.fakes.providers import FakeApiframe, FakeSunoApi
from tests.reliability.harness import (
    CLIP,
    apiframe_settings,
    extend_options,
    fast_sunoapi,
    is_result,
    reply_history,
    seeded_apiframe_options,
    sunoapi_settings,
    tasks,
)

MAY_HAVE_BEEN_ACCEPTED = [
    {"status": 502, "body": "<html>Bad Gateway</html>"},
    {"reset_connection": True},
    {"status": 200, "raw": b'{"code": 200, "task_id": '},
]
REFUSED = [
    {"status": 429, "body": {"code": 429, "message": "Too many requests"}},
    {"status": 200, "body": {"code": 429, "message": "Too many requests"}},
]
TRANSIENT = MAY_HAVE_BEEN_ACCEPTED + REFUSED


def spacing(times: list[float]) -> float:
    return min((later - earlier for earlier, later in itertools.pairwise(times)), default=float("inf"))


def most_in_window(times: list[float], window: float) -> int:
    """The largest number of requests that started within any `window` seconds."""
    return max((sum(1 for other in times if start <= other < start + window) for start in times), default=0)


async def test_rate_limit_answers_on_submit_are_retried_and_shown_as_retrying(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        for fault in REFUSED:
            suno.inject("/extend-music", **fault)  # type: ignore[arg-type]
        async with running_bot(discord, sunoapi_settings(discord, suno, tmp_path / "encore.db")):
            command = await discord.invoke_command("extend", extend_options("through the storm"))
            await discord.wait_for_message(CHANNEL_ID, is_result)
            await command.wait_original(lambda message: "posted" in message.content)
        assert any("retrying" in text for text in reply_history(command))
        assert not any("❌" in text for text in reply_history(command))
        assert len(suno.calls("/extend-music")) == len(REFUSED) + 1
        assert len(suno.submits) == 1
        assert spacing([call.time for call in suno.calls("/extend-music")]) >= 0.2
        assert suno.rate_limit_violations == []


@pytest.mark.parametrize("fault", MAY_HAVE_BEEN_ACCEPTED)
async def test_a_submit_fault_after_sending_fails_the_task_and_is_never_sent_again(
    tmp_path: Path, fault: dict[str, object]
) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        suno.inject("/extend-music", **fault)  # type: ignore[arg-type]
        async with running_bot(discord, sunoapi_settings(discord, suno, database)):
            command = await discord.invoke_command("extend", extend_options("maybe billed"))
            await eventually(
                lambda: (rows := tasks(database)) and rows[-1]["status"] == "failed", what="the task to fail"
            )
            await command.wait_original(lambda message: "❌" in message.content)
        assert len(suno.calls("/extend-music")) == 1  # it may have been charged: never resent
        assert "not sent again" in tasks(database)[-1]["error"]


async def test_transient_poll_faults_are_retried(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        for fault in TRANSIENT:
            suno.inject("/get-task", **fault)  # type: ignore[arg-type]
        async with running_bot(discord, sunoapi_settings(discord, suno, tmp_path / "encore.db")):
            command = await discord.invoke_command("extend", extend_options("keep asking"))
            await discord.wait_for_message(CHANNEL_ID, is_result)
        assert not any("❌" in text for text in reply_history(command))
        assert any("retrying" in text for text in reply_history(command))
        assert len(suno.calls("/get-task")) >= len(TRANSIENT) + 4
        assert most_in_window([call.time for call in suno.calls("/get-task")], 1.0) <= 20
        assert suno.rate_limit_violations == []
        assert [row["status"] for row in tasks(tmp_path / "encore.db")] == ["delivered"]


@pytest.mark.parametrize("provider", ["sunoapi", "apiframe"])
async def test_a_failed_generation_is_told_to_the_requester_in_the_channel(tmp_path: Path, provider: str) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno, FakeApiframe("unused") as apiframe:
        if provider == "sunoapi":
            fake: FakeSunoApi | FakeApiframe = suno
            settings, options = sunoapi_settings(discord, suno, database), extend_options("doomed")
        else:
            apiframe.api_key = suno.api_key
            fake, settings, options = apiframe, apiframe_settings(discord, apiframe, database), {}
            options = seeded_apiframe_options(apiframe)
        fake.set_script(None, [fake.default_script[0]])
        async with running_bot(discord, settings):
            await discord.invoke_command("extend", options)
            submit = await fake.wait_for_submit()
            fake.fail(submit.task_id, "the model refused this song")
            notice = await discord.wait_for_message(CHANNEL_ID, lambda message: "❌" in message.content)
        assert notice.content.startswith(f"<@{USER_ID}>") and "the model refused this song" in notice.content
        assert notice.allowed_mentions == {"parse": [], "users": [USER_ID]}
        [task] = tasks(database)
        assert task["status"] == "failed" and "the model refused this song" in task["error"]


async def test_a_stalled_task_fails_only_after_no_progress_for_the_deadline(tmp_path: Path) -> None:
    """Each status change resets the deadline (1 s): moving every 0.6 s for 1.8 s is fine; then silence fails it."""
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        suno.set_script(None, ["submitted", "queued", "streaming"])
        settings = sunoapi_settings(discord, suno, database, TASK_STALL_TIMEOUT_SECONDS="1")
        async with running_bot(discord, settings):
            await discord.invoke_command("extend", extend_options("slowly"))
            submit = await suno.wait_for_submit()
            suno.hold(submit.task_id)
            moved_at = submit.time
            for _ in range(2):
                while (poll := await suno.wait_for_poll(submit.task_id)).time - moved_at < 0.6:
                    pass
                suno.advance(submit.task_id)
                moved_at = poll.time
            notice = await discord.wait_for_message(CHANNEL_ID, lambda message: "❌" in message.content)
            failed_at = suno.polls[-1].time
        assert failed_at - submit.time > 2.0
        assert "no progress" in notice.content
        [task] = tasks(database)
        assert task["status"] == "failed" and "no progress" in task["error"]


async def test_a_key_revoked_while_a_task_runs_is_named_when_the_task_gives_up(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        suno.set_script(None, ["submitted"])
        settings = sunoapi_settings(discord, suno, database, TASK_STALL_TIMEOUT_SECONDS="1")
        async with running_bot(discord, settings):
            command = await discord.invoke_command("extend", extend_options("while the key changes"))
            submit = await suno.wait_for_submit()
            await suno.wait_for_poll(submit.task_id)
            suno.api_key = "a-new-key-the-bot-does-not-have"
            notice = await discord.wait_for_message(CHANNEL_ID, lambda message: "❌" in message.content)
        assert "refused Encore's API key" in notice.content and "operator" in notice.content
        assert any("retrying" in text and "refused the API key" in text for text in reply_history(command))
        [task] = tasks(database)
        assert task["status"] == "failed" and "API key" in task["error"]


@pytest.mark.parametrize("provider", ["sunoapi", "apiframe"])
async def test_a_bad_key_is_reported_once_logged_loudly_and_not_retried(
    tmp_path: Path, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "encore.db"
    async with (
        FakeDiscord() as discord,
        FakeSunoApi("the-real-key", clips=[CLIP]) as suno,
        FakeApiframe("the-real-key") as apiframe,
    ):
        if provider == "sunoapi":
            settings, options, path = (
                sunoapi_settings(discord, suno, database),
                extend_options("no key"),
                "/extend-music",
            )
            calls = suno.calls
        else:
            settings, path, calls = apiframe_settings(discord, apiframe, database), "/suno-extend", apiframe.calls
            options = seeded_apiframe_options(apiframe)
        with caplog.at_level(logging.INFO):
            async with running_bot(discord, settings):
                command = await discord.invoke_command("extend", options)
                notice = await discord.wait_for_message(CHANNEL_ID, lambda message: "❌" in message.content)
                await command.wait_original(lambda message: "operator" in message.content)
                await eventually(lambda: tasks(database)[0]["status"] == "failed", what="the task to fail")
        assert BAD_KEY_MESSAGE in notice.content
        assert len(discord.messages(CHANNEL_ID)) == 1
        assert len(calls(path)) == 1
        assert [record.levelno for record in caplog.records if "KEY REFUSED" in record.getMessage()] == [logging.ERROR]


@pytest.mark.parametrize("answer", [{}, {"task_id": 42}, {"task_id": "not a usable id!"}])
async def test_an_accepted_submission_without_a_readable_task_id_is_never_sent_again(
    tmp_path: Path, answer: dict[str, object]
) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        apiframe.inject("/suno-extend", status=200, body=answer)
        async with running_bot(discord, apiframe_settings(discord, apiframe, database)):
            command = await discord.invoke_command("extend", seeded_apiframe_options(apiframe))
            await eventually(
                lambda: (rows := tasks(database)) and rows[-1]["status"] == "failed", what="the task to fail"
            )
            await command.wait_original(lambda message: "❌" in message.content)
        assert len(apiframe.calls("/suno-extend")) == 1  # it may have been charged: never resent
        assert "not sent again to avoid paying twice" in tasks(database)[-1]["error"]
