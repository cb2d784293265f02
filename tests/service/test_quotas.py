"""Credit protection at intake: tasks at once, daily limits per member and per server, the cooldown, the allowed
servers, what is given back, and repeated requests. A refused request creates no task, so nothing is spent."""

from __future__ import annotations

import pytest

from bot.domain.errors import DuplicateRequest, NotAccepting, QuotaRefused, RerollRefused
from bot.domain.models import TaskStatus
from bot.domain.quota import DAY_SECONDS, QuotaPolicy
from bot.domain.records import TaskRecord
from bot.domain.validation import ExtendOptions
from bot.service import Accepted, TaskService
from bot.store.sqlite import SqliteStore
from tests.fakes.events import RecordingEvents
from tests.fakes.scripted_provider import ScriptedSunoApi, answer, clip
from tests.service.conftest import CLIP, GUILD, MEMBER, OTHER_MEMBER, POLL_INTERVAL, STALL_TIMEOUT, requester

OTHER_GUILD = 2


def build(
    store: SqliteStore,
    provider: ScriptedSunoApi,
    events: RecordingEvents,
    quota: QuotaPolicy,
    allowed_guild_ids: frozenset[int] = frozenset(),
) -> TaskService:
    return TaskService(
        store,
        provider,
        events,
        poll_interval=POLL_INTERVAL,
        stall_timeout=STALL_TIMEOUT,
        quota=quota,
        allowed_guild_ids=allowed_guild_ids,
    )


async def extend(service: TaskService, take: int, user_id: int = MEMBER, guild_id: int | None = GUILD) -> Accepted:
    options = ExtendOptions(song=CLIP, at="1:05", prompt=f"take {take}")
    return await service.intake.request_extend(requester(user_id, guild_id), options)


async def deliver(
    service: TaskService, provider: ScriptedSunoApi, events: RecordingEvents, task: TaskRecord, song: str
) -> None:
    """Submit the oldest queued task (this one), let the provider report it complete, and wait for the post."""
    assert await service.submitter.submit_next() == 0
    submitted = await service.store.get_task(task.id)
    assert submitted is not None and submitted.provider_task_id is not None
    provider_task_id = submitted.provider_task_id
    provider.answers[provider_task_id] = answer("complete", clip(song))
    assert await service.apply_update(provider_task_id, (await provider.fetch([provider_task_id]))[0])
    await events.wait_ended([task.id])
    assert (await service.store.get_task(task.id) or task).status is TaskStatus.DELIVERED


async def queued(service: TaskService) -> int:
    return len(await service.store.tasks_with_status(TaskStatus.QUEUED))


async def test_tasks_at_once_per_member(store: SqliteStore, provider: ScriptedSunoApi, events: RecordingEvents) -> None:
    service = build(store, provider, events, QuotaPolicy(max_active_per_user=1, daily_per_user=0))
    first = await extend(service, 1)
    with pytest.raises(QuotaRefused) as refused:
        await extend(service, 2)
    assert (refused.value.limit, refused.value.retry_at) == ("active", None)
    await extend(service, 3, user_id=OTHER_MEMBER)  # each member has their own
    assert await store.mark_failed(first.task.id, "the provider refused it")
    await extend(service, 4)  # a finished task frees its place
    assert await queued(service) == 2


async def test_the_daily_limit_per_member_says_when_it_frees_up(
    store: SqliteStore, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    service = build(store, provider, events, QuotaPolicy(max_active_per_user=0, daily_per_user=2))
    first = await extend(service, 1)
    await extend(service, 2)
    with pytest.raises(QuotaRefused) as refused:
        await extend(service, 3)
    assert refused.value.limit == "user_daily"
    assert refused.value.retry_at == pytest.approx(first.task.created_at + DAY_SECONDS)
    await extend(service, 4, user_id=OTHER_MEMBER)
    assert await queued(service) == 3


async def test_a_task_that_made_no_song_is_given_back_and_a_reroll_counts(
    store: SqliteStore, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    service = build(store, provider, events, QuotaPolicy(max_active_per_user=0, daily_per_user=2))
    failed = await extend(service, 1)
    assert await store.mark_failed(failed.task.id, "Suno couldn't make this song")
    cancelled = await extend(service, 2)
    assert await store.cancel_task(cancelled.task.id, MEMBER)
    made = await extend(service, 3)  # both given back: this is the first charged task of the day
    await deliver(service, provider, events, made.task, "cccccccc-0000-4000-8000-000000000001")
    await service.intake.reroll(made.task.id, MEMBER)  # the second
    with pytest.raises(QuotaRefused) as refused:
        await extend(service, 4)
    assert refused.value.limit == "user_daily"


async def test_a_servers_daily_limit_counts_every_member(
    store: SqliteStore, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    service = build(store, provider, events, QuotaPolicy(max_active_per_user=0, daily_per_user=0))
    await store.update_guild_settings(GUILD, {"daily_limit": 1})
    await extend(service, 1)
    with pytest.raises(QuotaRefused) as refused:
        await extend(service, 2, user_id=OTHER_MEMBER)
    assert refused.value.limit == "guild_daily"
    await extend(service, 3, guild_id=OTHER_GUILD)  # another server's day is its own
    assert await queued(service) == 2


async def test_the_cooldown_between_requests(
    store: SqliteStore, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    policy = QuotaPolicy(max_active_per_user=0, daily_per_user=0, cooldown_seconds=60)
    service = build(store, provider, events, policy)
    first = await extend(service, 1)
    with pytest.raises(QuotaRefused) as refused:
        await extend(service, 2)
    assert refused.value.limit == "cooldown"
    assert refused.value.retry_at == pytest.approx(first.task.created_at + 60)
    await extend(service, 3, user_id=OTHER_MEMBER)


async def test_only_allowed_servers_are_served(
    store: SqliteStore, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    open_policy = QuotaPolicy(max_active_per_user=0, daily_per_user=0)
    service = build(store, provider, events, open_policy, allowed_guild_ids=frozenset({GUILD}))
    for guild_id in (OTHER_GUILD, None):  # another server, and a DM
        with pytest.raises(NotAccepting, match="not enabled on this server"):
            await extend(service, 1, guild_id=guild_id)
    await extend(service, 1)
    assert await queued(service) == 1


async def test_the_same_request_twice_is_one_task(
    store: SqliteStore, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    service = build(store, provider, events, QuotaPolicy(max_active_per_user=0, daily_per_user=0))
    await extend(service, 1)
    with pytest.raises(DuplicateRequest):
        await extend(service, 1)
    assert await queued(service) == 1


async def test_a_reroll_by_another_member_needs_the_servers_permission(
    store: SqliteStore, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    service = build(store, provider, events, QuotaPolicy(max_active_per_user=0, daily_per_user=0))
    made = await extend(service, 1)
    with pytest.raises(RerollRefused, match="not a finished Encore result"):
        await service.intake.reroll(made.task.id, MEMBER)
    await deliver(service, provider, events, made.task, "cccccccc-0000-4000-8000-000000000002")
    with pytest.raises(RerollRefused, match="Only the member who asked"):
        await service.intake.reroll(made.task.id, OTHER_MEMBER)
    await store.update_guild_settings(GUILD, {"reroll_anyone": True})
    reroll = await service.intake.reroll(made.task.id, OTHER_MEMBER)
    assert (reroll.task.requester_id, reroll.task.reroll_of) == (OTHER_MEMBER, made.task.id)
