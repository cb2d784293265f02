"""Hostile and careless input: any text in any /extend option becomes a valid request or an InputError with a
message (never another exception, never a task for the provider), and no user text can ping anyone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.config import ProviderName
from bot.domain.models import ExtendRequest, Requester
from bot.domain.quota import QuotaPolicy
from bot.domain.validation import ExtendOptions, InputError, validate_extend
from bot.providers import CAPABILITIES, RateLimiter, SunoApiProvider
from bot.service import TaskService
from bot.store.sqlite import SqliteStore
from tests.e2e.harness import PROVIDER_KEY, running_bot
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, USER_ID, FakeDiscord
from tests.fakes.events import RecordingEvents
from tests.fakes.providers import FakeSunoApi
from tests.reliability.harness import extend_options, fast_sunoapi, is_result, rows, sunoapi_settings

CLIP = "3f2a1c9b-1111-4222-8333-444455556666"
EXAMPLES = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

anything = st.one_of(st.none(), st.text(), st.text(alphabet=st.characters(codec="utf-8"), max_size=6000))
songs = st.one_of(
    st.text(),
    st.just(CLIP),
    st.builds(lambda s: f"https://suno.com/song/{CLIP}{s}", st.text(max_size=5)),
    st.builds(lambda s: f"{s}suno.com/s/{s}", st.text(max_size=5)),
)
timestamps = st.one_of(anything, st.from_regex(r"\A\d{1,3}(:\d{1,2}){0,2}(\.\d{1,3})?\Z"))
every_model = sorted({model for caps in CAPABILITIES.values() for model in caps.choosable_models})
models = st.one_of(anything, st.sampled_from(every_model))
options = st.builds(
    ExtendOptions,
    song=songs,
    task=st.one_of(anything, st.uuids().map(str)),
    at=timestamps,
    lyrics=anything,
    prompt=anything,
    style=anything,
    title=anything,
    model=models,
)


@pytest.mark.parametrize("provider", sorted(CAPABILITIES))
@EXAMPLES
@given(extend=options)
@example(extend=ExtendOptions(song="["))  # urlsplit raised ValueError("Invalid IPv6 URL") past InputError
def test_validation_gives_a_request_or_a_message(provider: ProviderName, extend: ExtendOptions) -> None:
    try:
        request = validate_extend(CAPABILITIES[provider], extend, None)
    except InputError as error:
        assert str(error).strip()
    else:
        assert request.continue_at > 0 and request.clip_id == CLIP


@dataclass
class Service:
    """A task service on a real store and a real sunoapi client, driven on its own event loop."""

    loop: asyncio.AbstractEventLoop
    service: TaskService
    fake: FakeSunoApi
    database: Path


@pytest.fixture(scope="module")
def running_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    loop = asyncio.new_event_loop()
    database = tmp_path_factory.mktemp("hostile") / "encore.db"

    async def build() -> tuple[TaskService, FakeSunoApi, aiohttp.ClientSession]:
        fake = await FakeSunoApi(PROVIDER_KEY, clips=[CLIP]).start()
        session = aiohttp.ClientSession()
        limiter = RateLimiter.per_second(2)
        provider = SunoApiProvider(session, fake.base_url, PROVIDER_KEY, submit_limiter=None, poll_limiter=limiter)
        store = await SqliteStore.open(database)
        no_limits = QuotaPolicy(0, 0)
        service = TaskService(store, provider, RecordingEvents(), poll_interval=1, stall_timeout=60, quota=no_limits)
        return service, fake, session

    service, fake, session = loop.run_until_complete(build())
    yield Service(loop, service, fake, database)
    loop.run_until_complete(service.store.close())
    loop.run_until_complete(session.close())
    loop.run_until_complete(fake.close())
    loop.close()


@EXAMPLES
@given(extend=options)
def test_request_extend_queues_a_task_or_explains(running_service: Service, extend: ExtendOptions) -> None:
    requester = Requester(user_id=USER_ID, channel_id=CHANNEL_ID, guild_id=GUILD_ID)
    before = rows(running_service.database, "SELECT COUNT(*) AS n FROM tasks")[0]["n"]
    try:
        accepted = running_service.loop.run_until_complete(
            running_service.service.intake.request_extend(requester, extend)
        )
    except InputError as error:
        assert str(error).strip()
        assert rows(running_service.database, "SELECT COUNT(*) AS n FROM tasks")[0]["n"] == before
    else:
        assert isinstance(accepted.task.request, ExtendRequest) and accepted.task.request.clip_id == CLIP
    assert running_service.fake.requests == []


PINGS = "@everyone @here <@&1200000000000000100> <@1200000000000000302>"


def message_payloads(discord: FakeDiscord) -> list[dict[str, Any]]:
    """Every message body the bot sent or edited: channel posts, DMs, interaction responses and follow-ups."""
    payloads = []
    for request in discord.requests:
        body = request.json if isinstance(request.json, dict) else {}
        if request.path.endswith("/callback"):
            body = body.get("data") or {}
        if request.method in ("POST", "PATCH") and ("content" in body or "embeds" in body):
            payloads.append(body)
    return payloads


async def test_user_text_never_pings_anyone(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        async with running_bot(discord, sunoapi_settings(discord, suno, tmp_path / "encore.db")):
            options = extend_options(f"[Verse] {PINGS}", title=f"{PINGS}"[:80], style=PINGS)
            await discord.invoke_command("extend", options)
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            await discord.invoke_command("extend", extend_options(PINGS, at=PINGS))
            suno.set_script(None, ["submitted"])
            await discord.invoke_command("extend", extend_options(f"fails {PINGS}"))
            await suno.wait_for_submit()
            failing = await suno.wait_for_submit()
            suno.fail(failing.task_id, f"refused {PINGS}")
            await discord.wait_for_message(CHANNEL_ID, lambda message: "❌" in message.content)
            await discord.add_reaction(CHANNEL_ID, result.id, USER_ID, "🔁")
            await discord.wait_until(lambda: len([m for m in discord.messages(CHANNEL_ID) if is_result(m)]) == 2)
        payloads = message_payloads(discord)
        assert len(payloads) >= 6
        for payload in payloads:
            allowed = payload.get("allowed_mentions")
            assert allowed is not None, payload
            assert not {"everyone", "roles", "users"} & set(allowed.get("parse", [])), payload
            assert set(allowed.get("users", [])) <= {USER_ID, str(USER_ID)}, payload
        stored = discord.messages(CHANNEL_ID) + discord.dm_messages(USER_ID)
        for interaction in discord.interactions:
            stored += [message for message in (interaction.original, *interaction.followups) if message]
        assert len(stored) >= 6 and not [message for message in stored if message.mention_everyone]
