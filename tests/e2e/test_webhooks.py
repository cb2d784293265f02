"""apiframe webhooks and `/healthz` through the real bot: the fake Discord, the fake apiframe calling the receiver."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bot.domain.models import TaskStatus
from bot.web.server import secret_meta_key
from tests.e2e.harness import (
    PROVIDER_KEY,
    free_port,
    is_result,
    provider_env,
    running_bot,
    settings_for,
    webhook_env,
)
from tests.e2e.test_extend_flow import assert_result_message
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.fakes.providers import FakeApiframe


async def post_update(url: str, body: dict[str, Any], secret: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers={"x-webhook-secret": secret}) as response,
    ):
        return response.status, await response.json()


async def test_webhooks_deliver_the_result_while_polling_is_slowed(tmp_path: Path) -> None:
    parent, song = str(uuid.uuid4()), str(uuid.uuid4())
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY, webhook_duplicates=True) as apiframe:
        apiframe.seed_task(parent, songs=[song])
        settings = settings_for(
            discord,
            tmp_path / "encore.db",
            {**provider_env(apiframe), **webhook_env(port)},
        )
        async with running_bot(discord, settings) as running:
            secret = await running.bot.store.get_meta(secret_meta_key("apiframe"))
            assert secret and len(secret) >= 32
            await discord.invoke_command("extend", {"song": song, "task": parent, "at": "30", "prompt": "faster"})
            submit = await apiframe.wait_for_submit()
            assert submit.json["webhook_url"] == f"{public}/webhooks/apiframe"
            assert submit.json["webhook_secret"] == secret
            hook_url = submit.json["webhook_url"]

            async def stored() -> tuple[TaskStatus, int | None]:
                [task] = await running.bot.store.active_tasks_by_provider_id("apiframe", [submit.task_id])
                return task.status, task.progress

            apiframe.set_script(submit.task_id, [("processing", 20), ("processing", 56), "finished"])
            apiframe.push_webhook(submit.task_id)
            assert (await apiframe.wait_for_webhook(submit.task_id)).response_status == 200
            assert (await apiframe.wait_for_webhook(submit.task_id)).response_status == 200  # the duplicate
            apiframe.advance(submit.task_id)
            await apiframe.wait_for_webhook(submit.task_id)
            await apiframe.wait_for_webhook(submit.task_id)
            assert await stored() == (TaskStatus.RUNNING, 56)

            forged = str(uuid.uuid4())
            done_body = {
                "task_id": submit.task_id,
                "status": "finished",
                "songs": [{"song_id": forged, "audio_url": apiframe.audio_url(forged)}],
            }
            assert await post_update(hook_url, done_body, "not-the-secret") == (401, {"error": "unauthorized"})
            late = {"task_id": submit.task_id, "status": "processing", "percentage": 20}
            assert await post_update(hook_url, late, secret) == (200, {"applied": False})
            repeat = {"task_id": submit.task_id, "status": "processing", "percentage": 56}
            assert await post_update(hook_url, repeat, secret) == (200, {"applied": False})
            assert await stored() == (TaskStatus.RUNNING, 56)
            assert not any(is_result(message) for message in discord.messages(CHANNEL_ID))

            apiframe.advance(submit.task_id)
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            await assert_result_message(discord, apiframe, result)
            assert await post_update(hook_url, done_body, secret) == (200, {"applied": False})
            assert apiframe.calls("/fetch") == [] and apiframe.calls("/fetch-many") == []
            assert len([m for m in discord.messages(CHANNEL_ID) if is_result(m)]) == 1

            await asyncio.wait_for(running.bot.wait_until_ready(), timeout=10)
            async with aiohttp.ClientSession() as session, session.get(f"{public}/healthz") as response:
                assert response.status == 200
                assert await response.json() == {
                    "status": "ok",
                    "database": "ok",
                    "gateway": "connected",
                    "tasks_in_flight": 0,
                    "loops": "running",
                    "provider": "reachable",
                    "providers": "ok",
                    "provider_health": {"apiframe": {"state": "up", "failures_in_a_row": 0, "retry_in_seconds": 0.0}},
                }


async def test_a_task_submitted_before_webhooks_were_on_is_still_polled(tmp_path: Path) -> None:
    parent, song = str(uuid.uuid4()), str(uuid.uuid4())
    port = free_port()
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        apiframe.seed_task(parent, songs=[song])
        without_webhooks = settings_for(discord, tmp_path / "encore.db", provider_env(apiframe))
        async with running_bot(discord, without_webhooks):
            await discord.invoke_command("extend", {"song": song, "task": parent, "at": "30", "prompt": "faster"})
            submit = await apiframe.wait_for_submit()
            assert "webhook_url" not in submit.json
            apiframe.hold(submit.task_id)
        apiframe.release(submit.task_id)
        with_webhooks = settings_for(
            discord,
            tmp_path / "encore.db",
            {**provider_env(apiframe), **webhook_env(port)},
        )
        async with running_bot(discord, with_webhooks):
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
        assert len(apiframe.calls("/fetch")) >= 5  # polled through every step, not left for the 600 s safety net
        assert result.embeds
