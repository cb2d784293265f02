"""The read services over a real SQLite store: what `/song`, `/songs`, `/queue`, autocomplete, reactions and
`/encore settings`/`usage` are shown. No Discord; the provider is the real apiframe client against its local fake."""

from __future__ import annotations

import datetime
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from bot.domain.models import ExtendRequest, GenerateRequest, Requester, TaskStatus
from bot.domain.wholesong import Span, WholeSongTimeline
from bot.providers import ApiframeProvider
from bot.service.admin import Credits, ServerAdmin
from bot.service.library import Library
from bot.store import Store
from bot.store.sqlite import SqliteStore
from tests.fakes.providers import FakeApiframe
from tests.support.songs import make_songs

GUILD = 31
ALICE = Requester(user_id=11, channel_id=21, guild_id=GUILD)
BOB = Requester(user_id=12, channel_id=21, guild_id=GUILD)
ELSEWHERE = Requester(user_id=11, channel_id=1, guild_id=99)
KEY = "fake-apiframe-key"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await SqliteStore.open(tmp_path / "encore.db")
    yield opened
    await opened.close()


async def test_a_song_card_has_its_chain_and_task_and_is_shown_only_on_its_own_server(store: Store) -> None:
    library = Library(store)
    await make_songs(store, ALICE, GenerateRequest(prompt="sea shanty", title="Tide"), "root")
    extend_id = await make_songs(store, BOB, ExtendRequest(clip_id="root", continue_at=30.0), "ext")
    card = await library.song_card("ext", GUILD)
    assert card is not None
    assert card.song.clip_id == "ext" and card.song.owner_id == BOB.user_id
    assert [song.clip_id for song in card.chain] == ["root", "ext"]
    assert card.task is not None and card.task.id == extend_id and card.task.kind == "extend"
    assert card.whole_song is None
    assert await library.song_card("ext", 99) is None
    assert await library.song_card("unknown", GUILD) is None


async def test_a_song_card_draws_the_posted_whole_songs_waveform_and_only_once_it_is_posted(store: Store) -> None:
    library = Library(store)
    await make_songs(store, ALICE, GenerateRequest(prompt="sea shanty"), "root")
    await make_songs(store, ALICE, ExtendRequest(clip_id="root", continue_at=30.0), "ext")
    assert await store.claim_whole_song("ext", guild_id=GUILD, channel_id=21, requested_by=11, stale_after=300)
    building = await library.song_card("ext", GUILD)
    assert building is not None and building.whole_song is None
    timeline = WholeSongTimeline(
        duration=90.0,
        spans=(Span("root", 0.0, 30.0), Span("ext", 30.0, None)),
        seams=(30.0,),
        peaks=tuple((-0.5, 0.5) for _ in range(200)),
    )
    assert await store.record_whole_song("ext", channel_id=21, message_id=5005, timeline_json=timeline.to_json())
    card = await library.song_card("ext", GUILD)
    assert card is not None and card.whole_song is not None
    assert card.whole_song.message_id == 5005 and card.whole_song.record.channel_id == 21
    picture = Image.open(io.BytesIO(card.whole_song.waveform_png))
    assert picture.format == "PNG" and picture.width > picture.height > 0


async def test_songs_pages_are_per_server_and_member_and_a_page_past_the_end_shows_the_last(store: Store) -> None:
    library = Library(store)
    for number in range(5):
        await make_songs(store, ALICE, GenerateRequest(prompt=f"p{number}"), f"s{number}a", f"s{number}b")
    await make_songs(store, ELSEWHERE, GenerateRequest(prompt="elsewhere"), "other-server")
    first = await library.songs_page(GUILD, ALICE.user_id, 0, 4)
    assert (first.total, first.page, first.last_page) == (10, 0, 2)
    assert [song.clip_id for song in first.songs] == ["s4b", "s4a", "s3b", "s3a"]
    past = await library.songs_page(GUILD, ALICE.user_id, 7, 4)
    assert (past.page, [song.clip_id for song in past.songs]) == (2, ["s0b", "s0a"])
    empty = await library.songs_page(GUILD, BOB.user_id, 3, 4)
    assert (empty.songs, empty.total, empty.page, empty.last_page) == ([], 0, 0, 0)


async def test_the_queue_places_only_the_shown_tasks_that_can_still_be_cancelled(store: Store) -> None:
    library = Library(store)
    created = []
    for requester, prompt in [(ALICE, "a1"), (BOB, "b1"), (ALICE, "a2"), (ALICE, "a3")]:
        task = await store.create_task(requester, "apiframe", GenerateRequest(prompt=prompt), dedupe_seconds=0)
        assert task is not None
        created.append(task.id)
    first, bobs, second, third = created
    assert await store.begin_submit(first)  # being sent: it can no longer be cancelled
    whole_server = await library.queue(GUILD, None, shown=3)
    assert [task.id for task in whole_server.tasks] == created
    assert whole_server.positions == {bobs: 1, second: 2}  # the fourth is not shown, the first is being sent
    alices = await library.queue(GUILD, ALICE.user_id, shown=20)
    assert [task.id for task in alices.tasks] == [first, second, third]
    assert alices.positions == {second: 2, third: 3}


async def test_look_ups_for_autocomplete_reactions_and_buttons(store: Store) -> None:
    library = Library(store)
    task_id = await make_songs(store, ALICE, GenerateRequest(prompt="p", title="Harbour Lights"), "harbour")
    await make_songs(store, BOB, GenerateRequest(prompt="q", title="Harbour Bells"), "bells")
    assert [song.clip_id for song in await library.recent_songs(ALICE.user_id, "harb", 25)] == ["harbour"]
    assert await library.recent_songs(ALICE.user_id, "bells", 25) == []
    assert await library.task_by_message(7007) is None
    assert await store.mark_delivered(task_id, 7007, {})
    by_message = await library.task_by_message(7007)
    assert by_message is not None and by_message.id == task_id and by_message.status is TaskStatus.DELIVERED
    found = await library.task(task_id)
    assert found is not None and found.requester_id == ALICE.user_id
    assert await library.task(task_id + 100) is None


async def test_settings_changes_are_kept_and_defaults_come_back(
    store: Store, http_session: aiohttp.ClientSession
) -> None:
    async with FakeApiframe(KEY) as fake:
        admin = ServerAdmin(store, [ApiframeProvider(http_session, fake.base_url, KEY)], default_daily_limit=40)
        changed = await admin.update_settings(GUILD, {"daily_limit": 5, "whole_song_auto": True})
        assert (changed.daily_limit, changed.whole_song_auto, changed.reroll_anyone) == (5, True, False)
        unchanged = await admin.update_settings(GUILD, {})
        assert unchanged == changed
        restored = await admin.update_settings(GUILD, {"daily_limit": None})
        assert restored.daily_limit is None and restored.whole_song_auto
        assert (await store.guild_settings(GUILD)) == restored
        assert admin.default_daily_limit == 40


async def test_usage_covers_the_last_days_up_to_today_and_asks_the_provider_for_credits(
    store: Store, http_session: aiohttp.ClientSession
) -> None:
    await make_songs(store, ALICE, GenerateRequest(prompt="counted"), "counted")
    queued = await store.create_task(BOB, "apiframe", GenerateRequest(prompt="not sent yet"), dedupe_seconds=0)
    assert queued is not None
    now = datetime.datetime(2026, 3, 1, 0, 30, tzinfo=datetime.UTC).timestamp()
    async with FakeApiframe(KEY, credits=1234) as fake:
        admin = ServerAdmin(store, [ApiframeProvider(http_session, fake.base_url, KEY)], default_daily_limit=0)
        report = await admin.usage(GUILD, days=3, now=now)
        assert report.days == ["2026-02-27", "2026-02-28", "2026-03-01"]
        assert report.credits == [Credits("apiframe", 1234)]
        # Both tasks were made after the first day's start, so both count: only the one sent to the provider costs.
        assert report.usage.by_member[ALICE.user_id].submitted == 1
        assert report.usage.by_member[BOB.user_id].tasks == 1 and report.usage.by_member[BOB.user_id].submitted == 0
        credits = await ServerAdmin.credits(ApiframeProvider(http_session, fake.base_url, "a-wrong-key"))
        assert credits.left is None and credits.error and credits.provider == "apiframe"
