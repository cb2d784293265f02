"""The provider contract: every plug-in in the registry, built by its own `create` from Settings, behaves the same
through the `Provider` interface against its strict local fake.

The suite is parametrized over `PLUGINS`, so a provider added to the registry without an adapter in
`contract_adapters.py` fails here. What a provider legitimately lacks (webhooks, a credits endpoint, uploads) its
adapter says explicitly, and the suite checks that the plug-in's capabilities say the same.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.domain.models import ExtendRequest, GenerateRequest, ProviderState, ProviderTask, Requester, TaskStatus
from bot.providers import (
    PLUGINS,
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    ProviderUnreachable,
    in_process_pacer,
)
from bot.service import TaskService
from bot.store.sqlite import SqliteStore
from bot.web.server import WebServer
from tests.e2e.harness import free_port
from tests.fakes.events import RecordingEvents
from tests.fakes.providers import FakeProvider, _duration
from tests.providers.contract_adapters import ADAPTERS, ContractAdapter

# What a submission that failed after it was sent (an HTTP 5xx, a connection reset mid-answer) raises, as
# bot/providers/errors.py maps it today: the one place to change when such failures are classified otherwise. It
# may have been accepted, so it never says `nothing_taken` (the service then never sends it again, anywhere).
SUBMIT_FAULT_AFTER_SENDING: type[ProviderError] = ProviderUnavailable
# A poll that failed the same way: retried, never charged to the task.
POLL_FAULT: type[ProviderError] = ProviderUnavailable

KEY = "contract-secret-key"
WEBHOOK_SECRET = "contract-install-secret-0123456789"
LYRICS = "[Verse]\nwe sing the same song"
STYLE = "dream pop"
TITLE = "Contract"
CONTINUE_AT = 30.0
# Polls to reach the end of any fake's default script (apiframe's is the longest, six steps).
MAX_POLLS = 8


def adapter_of(name: str) -> ContractAdapter:
    """The adapter of a plug-in in the registry; a plug-in without one fails every check."""
    assert name in ADAPTERS, f"provider {name!r} is in the registry but has no contract adapter"
    return ADAPTERS[name]


def plugins_where(wanted: Callable[[ContractAdapter], bool]) -> list[str]:
    """The registry's plug-ins a check applies to (and every plug-in without an adapter, so that it fails)."""
    return [name for name in sorted(PLUGINS) if name not in ADAPTERS or wanted(ADAPTERS[name])]


@pytest.fixture(params=sorted(PLUGINS))
def adapter(request: pytest.FixtureRequest) -> ContractAdapter:
    return adapter_of(request.param)


def build(
    adapter: ContractAdapter,
    fake: FakeProvider,
    session: aiohttp.ClientSession,
    *,
    key: str = KEY,
    public_url: str = "",
    webhook_secret: str | None = None,
) -> Provider:
    """The client exactly as the bot builds it: the registry's `create` from Settings read from the environment."""
    env = adapter.env(fake, key)
    if public_url:
        env["PUBLIC_WEBHOOK_URL"] = public_url
    settings = Settings.from_env(env)
    provider = PLUGINS[adapter.name].create(settings, session, webhook_secret, in_process_pacer)
    assert provider.name == adapter.name and provider.capabilities is PLUGINS[adapter.name].capabilities
    return provider


def new_song(provider: Provider) -> GenerateRequest:
    """A song from lyrics with a style and a title: what every provider takes, in its default model."""
    return GenerateRequest(lyrics=LYRICS, style=STYLE, title=TITLE, model=provider.capabilities.default_generate_model)


async def generate(provider: Provider, reference: int | None = None) -> str:
    async with provider.submit_slot():
        return await provider.submit_generate(new_song(provider), reference=reference)


async def poll_until_done(provider: Provider, task_id: str) -> ProviderTask:
    """Poll through the fake's script until the task ends (each poll moves it one step)."""
    for _ in range(MAX_POLLS):
        (task,) = await provider.fetch([task_id])
        assert task.task_id == task_id and task.malformed is None
        if task.state in (ProviderState.SUCCEEDED, ProviderState.FAILED):
            return task
    raise AssertionError(f"{provider.name} task {task_id} did not end in {MAX_POLLS} polls")


# capabilities as the adapters state them


def test_every_adapter_is_a_plugin_of_the_registry() -> None:
    assert set(ADAPTERS) == set(PLUGINS)


async def test_what_a_provider_lacks_is_what_its_capabilities_say(
    adapter: ContractAdapter, http_session: aiohttp.ClientSession
) -> None:
    caps = PLUGINS[adapter.name].capabilities
    async with adapter.fake(KEY) as fake:
        pushed = build(adapter, fake, http_session, public_url="https://encore.example", webhook_secret=WEBHOOK_SECRET)
        assert adapter.pushes == caps.webhooks == bool(pushed.webhook_routes())
        assert build(adapter, fake, http_session).webhook_routes() == ()  # no secret: polled only
        if not adapter.reads_credits:
            assert await pushed.credits() is None
        if not caps.uploads:
            with pytest.raises(ProviderRejected, match="cannot extend uploaded audio"):
                await pushed.upload_audio(fake.audio_url("a member's track"))
        assert fake.requests == []  # nothing was asked of a provider that cannot answer


# a new song, and an extend of it


async def test_a_new_song_is_polled_to_two_finished_clips_and_extended_from_a_point(
    adapter: ContractAdapter, http_session: aiohttp.ClientSession
) -> None:
    async with adapter.fake(KEY) as fake:
        provider = build(adapter, fake, http_session)
        task_id = await generate(provider)
        (submit,) = fake.submits
        assert submit.path == adapter.generate_path

        song = await poll_until_done(provider, task_id)
        assert song.state is ProviderState.SUCCEEDED and song.error is None
        made = adapter.clip_ids(fake, task_id)
        assert [clip.id for clip in song.clips] == made and len(made) == 2
        assert [clip.audio_url for clip in song.clips] == [fake.audio_url(clip_id) for clip_id in made]
        lengths = [float(_duration(clip_id)) if adapter.gives_durations else None for clip_id in made]
        assert [clip.duration for clip in song.clips] == lengths

        source = song.clips[0]
        model = provider.capabilities.default_generate_model
        request = ExtendRequest(
            clip_id=source.id,
            continue_at=CONTINUE_AT,
            parent_task_id=task_id,
            lyrics="[Chorus]\nand then it goes on",
            style=STYLE,
            title=TITLE,
            model=model,
        )
        async with provider.submit_slot():
            extend_id = await provider.submit_extend(request)
        assert extend_id != task_id
        sent = adapter.sent_extend(fake.submits[-1].json)
        assert sent.clip_id == source.id
        assert sent.continue_at == CONTINUE_AT and type(sent.continue_at) in (int, float)  # a JSON number
        assert sent.parent_task_id == (task_id if provider.capabilities.needs_parent_task else None)
        assert sent.model == (model if adapter.sends_extend_model else None)

        extension = await poll_until_done(provider, extend_id)
        assert extension.state is ProviderState.SUCCEEDED and len(extension.clips) == 2

        if provider.capabilities.continue_before_end:  # the song's own end is not a point inside it
            assert source.duration is not None
            with pytest.raises(ProviderRejected):
                async with provider.submit_slot():
                    await provider.submit_extend(dataclasses.replace(request, continue_at=source.duration))
            assert len(fake.submits) == 2


async def test_a_failed_task_is_failed_with_the_providers_reason(
    adapter: ContractAdapter, http_session: aiohttp.ClientSession
) -> None:
    async with adapter.fake(KEY) as fake:
        provider = build(adapter, fake, http_session)
        task_id = await generate(provider)
        fake.fail(task_id, "the lyrics were refused")
        (task,) = await provider.fetch([task_id])
        assert task.state is ProviderState.FAILED
        assert task.error is not None and "the lyrics were refused" in task.error


# refusals


async def test_a_wrong_key_is_an_auth_error_and_creates_nothing(
    adapter: ContractAdapter, http_session: aiohttp.ClientSession
) -> None:
    async with adapter.fake(KEY) as fake:
        provider = build(adapter, fake, http_session, key="a-wrong-key")
        with pytest.raises(ProviderAuthError) as refused:
            await generate(provider)
        assert not refused.value.retryable and "a-wrong-key" not in str(refused.value)
        assert refused.value.nothing_taken  # a refusal: safe to send elsewhere
        if adapter.reads_credits:
            with pytest.raises(ProviderAuthError):
                await provider.credits()
        assert fake.submits == []


async def test_a_rate_limit_answer_is_rate_limited_and_retryable(
    adapter: ContractAdapter, http_session: aiohttp.ClientSession
) -> None:
    async with adapter.fake(KEY, tight_submit_window=True) as fake:
        provider = build(adapter, fake, http_session)
        await generate(provider)
        if adapter.rate_limit_undocumented:
            fake.inject(adapter.generate_path, status=429, body=adapter.rate_limit_answer())
        # Straight to the provider, past the client's own pacing: the provider's answer is what is under test.
        with pytest.raises(ProviderRateLimited) as refused:
            await provider.submit_generate(new_song(provider))
        assert refused.value.retryable and refused.value.nothing_taken
        assert len(fake.submits) == 1


@pytest.mark.parametrize("name", plugins_where(lambda adapter: adapter.out_of_credits_undocumented is None))
async def test_out_of_credits_is_a_refusal_that_says_so(name: str, http_session: aiohttp.ClientSession) -> None:
    """(sunoapi.co documents no such answer: its adapter says so.)"""
    adapter = adapter_of(name)
    async with adapter.fake(KEY, credits=5) as fake:
        provider = build(adapter, fake, http_session)
        with pytest.raises(ProviderRejected) as refused:
            await generate(provider)
        assert not refused.value.retryable and "credits" in refused.value.message.lower()
        assert refused.value.nothing_taken
        assert fake.submits == []


async def test_a_success_that_is_not_a_json_object_is_never_a_refusal(
    adapter: ContractAdapter, http_session: aiohttp.ClientSession
) -> None:
    """A submission answered with a 2xx Encore cannot read may have been accepted (and charged): it must never
    say `nothing_taken`, or the service would send it again, here or to another provider."""
    async with adapter.fake(KEY) as fake:
        provider = build(adapter, fake, http_session)
        fake.inject(adapter.generate_path, status=200, body=["not", "an", "object"])
        with pytest.raises(ProviderError) as unreadable:
            await generate(provider)
        assert not unreadable.value.nothing_taken


async def test_a_server_error_or_reset_after_sending_is_mapped_per_the_errors_module(
    adapter: ContractAdapter, http_session: aiohttp.ClientSession
) -> None:
    async with adapter.fake(KEY) as fake:
        provider = build(adapter, fake, http_session)
        fake.inject(adapter.generate_path, status=500, body={})
        with pytest.raises(SUBMIT_FAULT_AFTER_SENDING) as server_error:
            await generate(provider)
        fake.inject(adapter.generate_path, status=None, reset_connection=True)
        with pytest.raises(SUBMIT_FAULT_AFTER_SENDING) as reset:
            await generate(provider)
        assert not server_error.value.nothing_taken and not reset.value.nothing_taken
        assert fake.submits == []

        task_id = await generate(provider)
        fake.inject(adapter.poll_path(task_id), status=503, body={})
        with pytest.raises(POLL_FAULT):
            await provider.fetch([task_id])
        (task,) = await provider.fetch([task_id])  # the next poll reads the task again
        assert task.state is not ProviderState.UNKNOWN and task.malformed is None


async def test_a_refused_connection_is_unreachable_and_certainly_created_nothing(
    adapter: ContractAdapter, http_session: aiohttp.ClientSession
) -> None:
    async with adapter.fake(KEY) as fake:
        provider = build(adapter, fake, http_session)
        await fake.close()  # nothing listens on its port: the connection is refused before anything is sent
        with pytest.raises(ProviderUnreachable) as refused:
            await generate(provider)
        assert refused.value.nothing_taken and refused.value.retryable
        await fake.start()  # back on the same address
        await generate(provider)
        assert len(fake.submits) == 1


# answers Encore cannot use


async def test_an_unknown_task_is_unknown_and_a_malformed_answer_is_reported_not_raised(
    adapter: ContractAdapter, http_session: aiohttp.ClientSession
) -> None:
    async with adapter.fake(KEY) as fake:
        provider = build(adapter, fake, http_session)
        (unknown,) = await provider.fetch(["no-such-task"])
        assert (unknown.task_id, unknown.state, unknown.clips) == ("no-such-task", ProviderState.UNKNOWN, ())

        task_id, readable_id = await generate(provider), await generate(provider)
        adapter.malformed(fake, task_id)
        (task,) = await provider.fetch([task_id])
        assert (task.task_id, task.state, task.clips) == (task_id, ProviderState.UNKNOWN, ())
        assert task.malformed
        if provider.batch_size > 1:  # one unreadable task never holds up the others of its batch
            unreadable, readable = await provider.fetch([task_id, readable_id])
            assert unreadable.malformed and unreadable.state is ProviderState.UNKNOWN
            assert readable.task_id == readable_id and readable.malformed is None
            assert readable.state is not ProviderState.UNKNOWN


# credits


async def test_credits_are_read_where_the_provider_tells(
    adapter: ContractAdapter, http_session: aiohttp.ClientSession
) -> None:
    async with adapter.fake(KEY, credits=730) as fake:
        credits = await build(adapter, fake, http_session).credits()
        assert credits == (730 if adapter.reads_credits else None)


# uploads


@pytest.mark.parametrize("name", plugins_where(lambda adapter: PLUGINS[adapter.name].capabilities.uploads))
async def test_an_upload_is_extended_where_the_provider_takes_them(
    name: str, http_session: aiohttp.ClientSession
) -> None:
    """(One that takes none refuses them: `test_what_a_provider_lacks_is_what_its_capabilities_say`.)"""
    adapter = adapter_of(name)
    caps = PLUGINS[name].capabilities
    async with adapter.fake(KEY) as fake:
        provider = build(adapter, fake, http_session)
        track_url = fake.audio_url("a member's track")  # stands in for a Discord attachment's public URL
        upload = await provider.upload_audio(track_url)
        assert upload.audio_url == track_url
        request = ExtendRequest(
            clip_id=None,
            continue_at=1.0,
            parent_task_id=upload.task_id,
            upload_song_id=upload.song_id,
            upload_url=track_url,
            lyrics="[Verse]\nmy own song goes on",
            style=STYLE,
            title=TITLE,
            model=caps.default_generate_model,
        )
        async with provider.submit_slot():
            extend_id = await provider.submit_extend(request)
        assert (await poll_until_done(provider, extend_id)).state is ProviderState.SUCCEEDED


# pushed updates


@dataclasses.dataclass
class Receiver:
    """Encore's real web server and task service over an in-memory store, for one provider's pushed calls."""

    url: str
    public_url: str
    store: SqliteStore
    provider: Provider
    service: TaskService

    async def task_at_provider(self) -> tuple[int, str]:
        """A new song Encore submitted (asking for pushed updates) and recorded as at the provider."""
        request = new_song(self.provider)
        requester = Requester(user_id=1, channel_id=1, guild_id=1)
        record = await self.store.create_task(requester, self.provider.name, request, dedupe_seconds=0)
        assert record is not None
        async with self.provider.submit_slot():
            provider_id = await self.provider.submit_generate(request, reference=record.id)
        assert await self.store.mark_submitted(record.id, provider_id, time.time() + 600, by_webhook=True)
        return record.id, provider_id


@asynccontextmanager
async def receiver(
    adapter: ContractAdapter, fake: FakeProvider, session: aiohttp.ClientSession
) -> AsyncIterator[Receiver]:
    port = free_port()
    local = f"http://127.0.0.1:{port}"
    public = adapter.public_url(fake, local)
    provider = build(adapter, fake, session, public_url=public, webhook_secret=WEBHOOK_SECRET)
    store = await SqliteStore.open(Path(":memory:"))
    service = TaskService(store, provider, RecordingEvents(), poll_interval=60, stall_timeout=900)
    server = WebServer(service, gateway_connected=lambda: True, host="127.0.0.1", port=port)
    await server.start()
    try:
        yield Receiver(local, public, store, provider, service)
    finally:
        await service.stop()
        await server.stop()
        await store.close()


@pytest.mark.parametrize("name", plugins_where(lambda adapter: adapter.pushes))
async def test_a_pushed_update_is_taken_and_a_forged_one_refused_without_a_change(
    name: str, http_session: aiohttp.ClientSession
) -> None:
    """(One that pushes nothing mounts no route: `test_what_a_provider_lacks_is_what_its_capabilities_say`.)"""
    adapter = adapter_of(name)
    async with adapter.fake(KEY) as fake, receiver(adapter, fake, http_session) as encore:
        pushed_id, pushed_provider_id = await encore.task_at_provider()
        other_id, other_provider_id = await encore.task_at_provider()
        other_before = await encore.store.get_task(other_id)
        assert other_before is not None and other_before.status is TaskStatus.SUBMITTED

        fake.finish(pushed_provider_id)
        genuine = await adapter.delivered(fake, pushed_provider_id)
        assert genuine.response_status == 200 and genuine.error is None
        if any(route.confirm_by_polling for route in encore.provider.webhook_routes()):
            # The call only made its task due (the next poll was 10 minutes away): the poll reads the result.
            untouched = await encore.store.get_task(pushed_id)
            assert untouched is not None and untouched.status is TaskStatus.SUBMITTED
            assert await encore.service.pollers[name].poll_due() == 0
        pushed = await encore.store.get_task(pushed_id)
        assert pushed is not None and pushed.status in (TaskStatus.SUCCEEDED, TaskStatus.DELIVERED)

        forgeries = adapter.forgeries(genuine, other_provider_id, encore.public_url, KEY)
        assert forgeries
        for forgery in forgeries:
            call = forgery.call
            async with http_session.post(f"{encore.url}{call.path}", data=call.body, headers=call.headers) as answer:
                assert answer.status == forgery.refused_with, forgery.what
        assert await encore.store.get_task(other_id) == other_before
