"""The SQLite store: migrations, the task lifecycle, dedupe, songs and autocomplete."""

from __future__ import annotations

import time
from pathlib import Path

import aiosqlite
import pytest

from bot.domain.models import Clip, ExtendRequest, Requester, TaskStatus
from bot.domain.quota import QuotaExceeded, QuotaPolicy
from bot.store import Store
from bot.store.sqlite import SqliteStore, migrations

CLIP = "3f2a1c9b-1111-4222-8333-444455556666"
REQUEST = ExtendRequest(clip_id=CLIP, continue_at=65.0, lyrics="la la", style="dream pop", title="Echoes")
ALICE = Requester(user_id=11, channel_id=21, guild_id=31, upload_limit=10_000_000)


async def test_migrations_create_the_schema_once(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "encore.db"
    store = await SqliteStore.open(path)
    assert await store.migrate() == len(migrations())
    await store.close()
    async with aiosqlite.connect(path) as db:
        version = await (await db.execute("PRAGMA user_version")).fetchone()
        mode = await (await db.execute("PRAGMA journal_mode")).fetchone()
        tables = {row[0] for row in await (await db.execute("SELECT name FROM sqlite_master")).fetchall()}
    assert version is not None and version[0] == len(migrations())
    assert mode is not None and mode[0] == "wal"
    assert {"tasks", "songs", "meta", "tasks_unfinished", "songs_by_owner"} <= tables
    reopened = await SqliteStore.open(path)
    assert await reopened.migrate() == len(migrations())
    await reopened.close()


async def test_task_lifecycle_is_persisted_at_every_step(store: Store) -> None:
    task = await store.create_task(ALICE, "sunoapi", REQUEST)
    assert task is not None and task.status is TaskStatus.QUEUED and task.request == REQUEST
    assert await store.queue_position(task.id) == 1
    await store.begin_submit(task.id)
    await store.mark_submitted(task.id, "provider-1", next_poll_at=0)
    submitted = await store.get_task(task.id)
    assert submitted is not None
    assert (submitted.status, submitted.provider_task_id) == (TaskStatus.SUBMITTED, "provider-1")
    assert [t.id for t in await store.due_active_tasks(time.time(), 10)] == [task.id]
    moved = await store.record_poll(
        submitted, status=TaskStatus.RUNNING, provider_status="streaming", progress=40, next_poll_at=time.time() + 60
    )
    assert moved
    assert await store.due_active_tasks(time.time(), 10) == []
    running = await store.get_task(task.id)
    assert running is not None
    assert not await store.record_poll(
        running, status=TaskStatus.RUNNING, provider_status="streaming", progress=40, next_poll_at=0
    )
    await store.mark_succeeded(
        running, [Clip("c1", "https://a/1.mp3", "https://a/1.jpeg", "One", 120.0), Clip("c2", "https://a/2.mp3", None)]
    )
    songs = await store.songs_of_task(task.id)
    assert [(s.clip_id, s.parent_clip_id, s.continue_at, s.owner_id) for s in songs] == [
        ("c1", CLIP, 65.0, 11),
        ("c2", CLIP, 65.0, 11),
    ]
    assert songs[1].title == "Echoes"
    assert [t.id for t in await store.tasks_with_status(TaskStatus.SUCCEEDED)] == [task.id]
    await store.mark_delivered(task.id, message_id=999, durations={"c2": 99.5})
    delivered = await store.task_by_message(999)
    assert delivered is not None and delivered.status is TaskStatus.DELIVERED and delivered.finished_at
    assert [song.duration for song in await store.songs_of_task(task.id)] == [120.0, 99.5]


async def test_task_counts_by_status(store: Store) -> None:
    assert await store.task_counts() == {}
    first = await store.create_task(ALICE, "sunoapi", REQUEST)
    await store.create_task(ALICE, "sunoapi", ExtendRequest(clip_id=CLIP, continue_at=5.0, prompt="two"))
    assert first is not None and await store.mark_failed(first.id, "no")
    assert await store.task_counts() == {TaskStatus.QUEUED: 1, TaskStatus.FAILED: 1}


async def test_the_same_request_twice_in_a_moment_makes_one_task(store: Store) -> None:
    first = await store.create_task(ALICE, "sunoapi", REQUEST)
    assert first is not None
    assert await store.create_task(ALICE, "sunoapi", REQUEST) is None
    other_user = Requester(user_id=12, channel_id=21, guild_id=31)
    assert await store.create_task(other_user, "sunoapi", REQUEST) is not None
    reroll = await store.create_task(ALICE, "sunoapi", REQUEST, reroll_of=first.id)
    assert reroll is not None and reroll.reroll_of == first.id
    assert await store.create_task(ALICE, "sunoapi", REQUEST, reroll_of=first.id) is None
    assert await store.create_task(ALICE, "sunoapi", REQUEST, dedupe_seconds=0) is not None


async def test_recent_songs_for_autocomplete(store: Store) -> None:
    for index in range(30):
        task = await store.create_task(ALICE, "apiframe", REQUEST, dedupe_seconds=0)
        assert task is not None
        await store.mark_submitted(task.id, f"p{index}", 0)
        task = await store.get_task(task.id)
        assert task is not None
        title = "Blue 100%" if index == 3 else f"Song {index}"
        await store.mark_succeeded(task, [Clip(f"clip-{index:02d}", "https://a.mp3", None, title, 60.0)])
    recent = await store.recent_songs(11)
    assert len(recent) == 25 and recent[0].clip_id == "clip-29"
    assert [s.clip_id for s in await store.recent_songs(11, "100%")] == ["clip-03"]
    assert [s.clip_id for s in await store.recent_songs(11, "SONG 1")][:2] == ["clip-19", "clip-18"]
    assert await store.recent_songs(12) == []
    song = await store.get_song("clip-03")
    assert song is not None and song.provider_task_id == "p3" and song.provider == "apiframe"


async def test_quotas_refuse_with_a_time_to_try_again(store: Store) -> None:
    policy = QuotaPolicy(max_active_per_user=0, daily_per_user=2, daily_per_guild=2, cooldown_seconds=0)
    first = await store.create_task(ALICE, "sunoapi", REQUEST, quota=policy)
    second = await store.create_task(ALICE, "sunoapi", REQUEST, quota=policy, dedupe_seconds=0)
    assert first and second
    with pytest.raises(QuotaExceeded) as caught:
        await store.create_task(ALICE, "sunoapi", REQUEST, quota=policy, dedupe_seconds=0)
    assert caught.value.limit == "user_daily"
    assert caught.value.retry_at == pytest.approx(first.created_at + 86_400)
    await store.mark_failed(first.id, "provider failed")
    refunded = await store.create_task(ALICE, "sunoapi", REQUEST, quota=policy, dedupe_seconds=0)
    assert refunded is not None
    bob = Requester(user_id=12, channel_id=21, guild_id=31)
    with pytest.raises(QuotaExceeded) as caught:
        await store.create_task(bob, "sunoapi", REQUEST, quota=policy)
    assert caught.value.limit == "guild_daily"


async def test_active_and_cooldown_limits(store: Store) -> None:
    active = QuotaPolicy(max_active_per_user=1, daily_per_user=0, cooldown_seconds=0)
    task = await store.create_task(ALICE, "sunoapi", REQUEST, quota=active)
    assert task is not None
    with pytest.raises(QuotaExceeded, match="active"):
        await store.create_task(ALICE, "sunoapi", REQUEST, quota=active, dedupe_seconds=0)
    await store.mark_failed(task.id, "x")
    cooldown = QuotaPolicy(max_active_per_user=0, daily_per_user=0, cooldown_seconds=60)
    with pytest.raises(QuotaExceeded) as caught:
        await store.create_task(ALICE, "sunoapi", REQUEST, quota=cooldown, dedupe_seconds=0)
    assert caught.value.limit == "cooldown"
    assert caught.value.retry_at == pytest.approx(task.created_at + 60)


async def test_a_clip_id_already_stored_is_never_overwritten_by_another_task(store: Store) -> None:
    tasks = []
    for prompt in ("first", "second"):
        task = await store.create_task(ALICE, "sunoapi", ExtendRequest(clip_id=CLIP, continue_at=5.0, prompt=prompt))
        assert task is not None
        await store.begin_submit(task.id)
        await store.mark_submitted(task.id, f"provider-{prompt}", next_poll_at=0)
        submitted = await store.get_task(task.id)
        assert submitted is not None
        tasks.append(submitted)
    first, second = tasks
    assert await store.mark_succeeded(first, [Clip("same", "https://a/first.mp3", None, "First", 60.0)])
    assert await store.mark_succeeded(
        second, [Clip("same", "https://a/second.mp3", None, "Second", 90.0), Clip("new", "https://a/new.mp3", None)]
    )
    kept = await store.get_song("same")
    assert kept is not None and (kept.task_id, kept.audio_url, kept.title, kept.duration) == (
        first.id,
        "https://a/first.mp3",
        "First",
        60.0,
    )
    assert [song.clip_id for song in await store.songs_of_task(second.id)] == ["new"]
