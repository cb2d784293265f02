"""Store queries behind /generate, /song, /songs and /queue: task kinds, lineage, paging, race-free cancel."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.models import ExtendRequest, GenerateRequest, Requester, TaskStatus
from bot.domain.quota import QuotaExceeded, QuotaPolicy
from bot.domain.records import GuildSettings
from bot.store import Store
from tests.support.songs import make_songs

ALICE = Requester(user_id=11, channel_id=21, guild_id=31)
BOB = Requester(user_id=12, channel_id=21, guild_id=31)
NEW_SONG = GenerateRequest(prompt="a sea shanty", title="Tide", model="V4_5")


async def test_a_generate_task_keeps_its_kind_and_its_songs_have_no_parent(store: Store) -> None:
    task_id = await make_songs(store, ALICE, NEW_SONG, "root-a", "root-b")
    task = await store.get_task(task_id)
    assert task is not None and task.kind == "generate" and task.request == NEW_SONG
    song = await store.get_song("root-a")
    assert song is not None and song.parent_clip_id is None and song.continue_at is None and song.title == "Tide"


async def test_song_chain_runs_from_the_original_to_the_song(store: Store) -> None:
    await make_songs(store, ALICE, NEW_SONG, "root-a", "root-b")
    await make_songs(store, BOB, ExtendRequest(clip_id="root-a", continue_at=30.0), "ext-1", "ext-1b")
    await make_songs(store, ALICE, ExtendRequest(clip_id="ext-1", continue_at=75.5), "ext-2")
    chain = await store.song_chain("ext-2")
    assert [(song.clip_id, song.continue_at, song.owner_id) for song in chain] == [
        ("root-a", None, 11),
        ("ext-1", 30.0, 12),
        ("ext-2", 75.5, 11),
    ]
    assert [song.clip_id for song in await store.song_chain("root-b")] == ["root-b"]
    assert await store.song_chain("unknown") == []


async def test_songs_page_is_per_server_and_member_newest_first(store: Store) -> None:
    for number in range(3):
        await make_songs(store, ALICE, GenerateRequest(prompt=f"p{number}"), f"s{number}a", f"s{number}b")
    await make_songs(store, Requester(user_id=11, channel_id=1, guild_id=99), NEW_SONG, "elsewhere")
    first, total = await store.songs_page(31, 11, offset=0, limit=4)
    second, _ = await store.songs_page(31, 11, offset=4, limit=4)
    assert total == 6
    assert [song.clip_id for song in first + second] == ["s2b", "s2a", "s1b", "s1a", "s0b", "s0a"]


async def test_cancel_only_wins_against_a_submission_that_has_not_started(store: Store) -> None:
    first = await store.create_task(ALICE, "apiframe", NEW_SONG)
    second = await store.create_task(ALICE, "apiframe", GenerateRequest(prompt="other"))
    assert first is not None and second is not None
    assert await store.begin_submit(first.id)
    assert not await store.cancel_task(first.id, ALICE.user_id)
    assert not await store.cancel_task(second.id, BOB.user_id)
    assert await store.cancel_task(second.id, ALICE.user_id)
    assert not await store.begin_submit(second.id)
    cancelled = await store.get_task(second.id)
    assert cancelled is not None and cancelled.status is TaskStatus.CANCELLED and cancelled.finished_at
    assert [task.id for task in await store.unfinished_tasks(31)] == [first.id]


async def test_a_concurrent_cancel_and_submission_have_exactly_one_winner(store: Store) -> None:
    for number in range(20):
        task = await store.create_task(ALICE, "apiframe", GenerateRequest(prompt=f"race {number}"))
        assert task is not None
        submitted, cancelled = await asyncio.gather(store.begin_submit(task.id), store.cancel_task(task.id))
        assert submitted != cancelled


async def test_a_cancelled_task_gives_its_quota_back(store: Store) -> None:
    quota = QuotaPolicy(max_active_per_user=0, daily_per_user=1)
    task = await store.create_task(ALICE, "apiframe", NEW_SONG, quota=quota)
    assert task is not None
    with pytest.raises(QuotaExceeded):
        await store.create_task(ALICE, "apiframe", GenerateRequest(prompt="more"), quota=quota)
    assert await store.cancel_task(task.id)
    assert await store.create_task(ALICE, "apiframe", GenerateRequest(prompt="more"), quota=quota) is not None


async def test_queue_positions_skip_the_task_being_submitted(store: Store) -> None:
    tasks = [await store.create_task(ALICE, "apiframe", GenerateRequest(prompt=f"q{n}")) for n in range(3)]
    ids = [task.id for task in tasks if task]
    assert [await store.queue_position(task_id) for task_id in ids] == [1, 2, 3]
    await store.begin_submit(ids[0])
    assert [await store.queue_position(task_id) for task_id in ids[1:]] == [1, 2]


async def test_guild_settings_default_then_change_and_reset(store: Store) -> None:
    assert await store.guild_settings(31) == GuildSettings(31)
    changed = await store.update_guild_settings(31, {"results_channel_id": 5, "reroll_anyone": True, "daily_limit": 0})
    assert (changed.results_channel_id, changed.reroll_anyone, changed.daily_limit, changed.star_threshold) == (
        5,
        True,
        0,
        3,
    )
    reset = await store.update_guild_settings(31, {"results_channel_id": None, "daily_limit": None})
    assert reset == GuildSettings(31, reroll_anyone=True)
    assert await store.guild_settings(32) == GuildSettings(32)
    with pytest.raises(ValueError, match="unknown"):
        await store.update_guild_settings(31, {"guild_id; DROP TABLE tasks": 1})
