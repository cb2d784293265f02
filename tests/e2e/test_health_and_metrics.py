"""`/healthz` and `/metrics` of the real bot with HTTP_PORT set (no webhooks), through one /extend to its post."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.app import EncoreBot
from bot.web.metrics import DISCORD_ROUTE_WORDS
from tests.e2e.harness import DISCORD_TOKEN, is_result, provider_env, running_bot, settings_for
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.reliability.harness import extend_options, fast_sunoapi

ROOT = Path(__file__).resolve().parents[2]


async def docker_healthcheck(port: int) -> int:
    """Run the Dockerfile's HEALTHCHECK command as Docker would inside the container; its exit code."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    command = json.loads(dockerfile.split("HEALTHCHECK", 1)[1].split("CMD", 1)[1].splitlines()[0])
    assert command[0] == "python"
    env = {**os.environ, "HTTP_PORT": str(port)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, *command[1:], env=env, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(process.wait(), timeout=20)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_health_and_metrics_follow_a_task(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        env = {**provider_env(suno), "HTTP_PORT": "0", "WEBHOOK_HOST": "127.0.0.1"}
        settings = settings_for(discord, tmp_path / "encore.db", env)
        async with running_bot(discord, settings) as running, aiohttp.ClientSession() as http:
            assert running.bot.web_server is not None
            base = f"http://127.0.0.1:{running.bot.web_server.port}"
            await discord.invoke_command("extend", extend_options("la la"))
            await discord.wait_for_message(CHANNEL_ID, is_result)
            await running.bot.wait_until_ready()
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
                health = await response.json()
            assert await docker_healthcheck(running.bot.web_server.port) == 0
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain; version=")
                text = await response.text()
            async with http.post(f"{base}/webhooks/apiframe", json={}) as response:
                assert response.status == 404  # no receiver without webhooks
        # A second bot in the same process gets its own registry (the global one would refuse the same names).
        assert EncoreBot(settings).metrics.registry is not running.bot.metrics.registry

    assert health == {
        "status": "ok",
        "database": "ok",
        "gateway": "connected",
        "tasks_in_flight": 0,
        "loops": "running",
        "provider": "reachable",
        "providers": "ok",
        "provider_health": {"sunoapi": {"state": "up", "failures_in_a_row": 0, "retry_in_seconds": 0.0}},
    }
    found = samples(text)
    assert value(found, "encore_provider_up", provider="sunoapi") == 1
    assert value(found, "encore_provider_cooldowns_total", provider="sunoapi") == 0
    assert value(found, "encore_tasks", status="delivered") == 1
    assert value(found, "encore_tasks", status="queued") == 0
    assert value(found, "encore_queue_length") == 0
    assert value(found, "encore_submissions_total", provider="sunoapi", outcome="ok") == 1
    assert value(found, "encore_polls_total", provider="sunoapi", outcome="ok") >= 1
    assert value(found, "encore_deliveries_total", outcome="delivered") == 1
    assert value(found, "encore_delivery_seconds_count", outcome="delivered") == 1
    extend = {"provider": "sunoapi", "endpoint": "/suno/music/extend-music", "result": "200"}
    assert value(found, "encore_provider_request_seconds_count", **extend) == 1
    post = {"method": "POST", "route": "/channels/:id/messages", "result": "200"}
    assert value(found, "encore_discord_request_seconds_count", **post) >= 1
    routes = {dict(labels)["route"] for name, labels in found if name == "encore_discord_request_seconds_count"}
    assert all(set(route.strip("/").split("/")) <= {*DISCORD_ROUTE_WORDS, ":id"} for route in routes)
    assert DISCORD_TOKEN not in text and "fake." not in text  # no token, no interaction token


async def test_healthz_is_503_once_the_database_is_gone(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        env = {**provider_env(suno), "HTTP_PORT": "0", "WEBHOOK_HOST": "127.0.0.1"}
        settings = settings_for(discord, tmp_path / "encore.db", env)
        async with running_bot(discord, settings) as running, aiohttp.ClientSession() as http:
            assert running.bot.web_server is not None
            base = f"http://127.0.0.1:{running.bot.web_server.port}"
            await running.bot.store.close()
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 503
                assert (await response.json())["database"] == "unavailable"
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 503
            assert await docker_healthcheck(running.bot.web_server.port) != 0
