"""Song pages in the store, on both backends: off until turned on, one page per song, take-downs for good, the
lineage with each parent's page, and the gallery's showcase and month's top."""

from __future__ import annotations

from bot.domain.models import Clip, ExtendRequest, GenerateRequest, Requester
from bot.domain.pages import LineageEntry
from bot.store import Store
from tests.support.songs import make_songs

GUILD = 31
ALICE = Requester(user_id=11, channel_id=21, guild_id=GUILD)
ROOT = "aaaaaaaa-0000-4000-8000-000000000001"
CHILD = "aaaaaaaa-0000-4000-8000-000000000002"
GRANDCHILD = "aaaaaaaa-0000-4000-8000-000000000003"
OTHER = "aaaaaaaa-0000-4000-8000-000000000004"


async def song_of(
    store: Store, request: GenerateRequest | ExtendRequest, clip: str, title: str, requester: Requester = ALICE
) -> int:
    made = Clip(clip, f"https://cdn.example/{clip}.mp3", None, title, 60.0)
    return await make_songs(store, requester, request, made, provider="sunoapi")


async def published(store: Store, clip: str, task_id: int, page_id: str, *, message_id: int = 500) -> str:
    reserved = await store.reserve_page(
        page_id, clip_id=clip, whole=False, guild_id=GUILD, task_id=task_id, makers=["Ana"], model="chirp-v4"
    )
    assert reserved == page_id
    await store.record_page_message(page_id, 21, message_id)
    return page_id


async def test_pages_are_off_until_turned_on_and_reserve_nothing_meanwhile(store: Store) -> None:
    task_id = await song_of(store, GenerateRequest(prompt="x"), ROOT, "Root")
    settings = await store.page_settings(GUILD)
    assert (settings.pages_on, settings.gallery_id) == (False, None)
    reserved = await store.reserve_page(
        "p-1", clip_id=ROOT, whole=False, guild_id=GUILD, task_id=task_id, makers=["Ana"], model=None
    )
    assert reserved is None
    assert await store.song_page("p-1") is None
    assert (await store.set_pages_on(GUILD, True)).pages_on


async def test_a_page_answers_once_posted_with_only_what_it_shows(store: Store) -> None:
    await store.set_pages_on(GUILD, True)
    task_id = await song_of(store, GenerateRequest(prompt="x", model="chirp-v4"), ROOT, "Root <b>")
    await store.reserve_page(
        "p-1", clip_id=ROOT, whole=False, guild_id=GUILD, task_id=task_id, makers=["Ana", "Bo"], model="chirp-v4"
    )
    assert await store.song_page("p-1") is None  # reserved before the post, answering only after it
    await store.record_page_message("p-1", 21, 500)
    page = await store.song_page("p-1")
    assert page is not None
    assert (page.clip_id, page.whole, page.title, page.makers, page.model) == (
        ROOT,
        False,
        "Root <b>",
        ("Ana", "Bo"),
        "chirp-v4",
    )
    assert (page.channel_id, page.message_id, page.duration, page.audio_url) == (
        21,
        500,
        60.0,
        f"https://cdn.example/{ROOT}.mp3",
    )
    assert page.timeline_json is None
    await store.set_pages_on(GUILD, False)
    assert await store.song_page("p-1") is None  # a server that turned pages off (or removed Encore)


async def test_a_song_keeps_one_page_id_and_its_whole_song_has_its_own(store: Store) -> None:
    await store.set_pages_on(GUILD, True)
    task_id = await song_of(store, GenerateRequest(prompt="x"), ROOT, "Root")
    first = await store.reserve_page(
        "p-1", clip_id=ROOT, whole=False, guild_id=GUILD, task_id=task_id, makers=[], model=None
    )
    again = await store.reserve_page(
        "p-2", clip_id=ROOT, whole=False, guild_id=GUILD, task_id=task_id, makers=[], model=None
    )
    whole = await store.reserve_page(
        "p-3", clip_id=ROOT, whole=True, guild_id=GUILD, task_id=task_id, makers=[], model=None
    )
    assert (first, again, whole) == ("p-1", "p-1", "p-3")


async def test_a_taken_down_page_is_gone_for_good_with_its_whole_song(store: Store) -> None:
    await store.set_pages_on(GUILD, True)
    task_id = await song_of(store, GenerateRequest(prompt="x"), ROOT, "Root")
    other_id = await song_of(store, GenerateRequest(prompt="y"), CHILD, "Other")
    await published(store, ROOT, task_id, "p-1")
    await store.reserve_page("p-w", clip_id=ROOT, whole=True, guild_id=GUILD, task_id=task_id, makers=[], model=None)
    await store.record_page_message("p-w", 21, 501)
    await published(store, CHILD, other_id, "p-other", message_id=502)
    assert await store.take_down_pages(task_id) == 2
    assert await store.song_page("p-1") is None and await store.song_page("p-w") is None
    assert await store.song_page("p-other") is not None
    assert await store.take_down_pages(task_id) == 0
    again = await store.reserve_page(
        "p-9", clip_id=ROOT, whole=False, guild_id=GUILD, task_id=task_id, makers=[], model=None
    )
    assert again is None
    await store.record_page_message("p-1", 21, 503)
    assert await store.song_page("p-1") is None


async def test_the_lineage_lists_each_parent_nearest_first_with_its_continue_point_and_page(store: Store) -> None:
    await store.set_pages_on(GUILD, True)
    root_task = await song_of(store, GenerateRequest(prompt="x"), ROOT, "Root")
    await song_of(store, ExtendRequest(clip_id=ROOT, continue_at=65.0, prompt="more"), CHILD, "Child")
    await song_of(store, ExtendRequest(clip_id=CHILD, continue_at=30.5, prompt="more"), GRANDCHILD, "Grandchild")
    await published(store, ROOT, root_task, "p-root")
    lineage = await store.page_lineage(GRANDCHILD, GUILD)
    assert [(entry.title, entry.continue_at, entry.page_id) for entry in lineage] == [
        ("Child", 30.5, None),  # no page of its own
        ("Root", 65.0, "p-root"),
    ]
    assert [entry.page_id for entry in await store.page_lineage(GRANDCHILD, GUILD + 1)] == [None, None]
    assert await store.page_lineage(ROOT, GUILD) == []


async def test_the_lineage_withholds_parents_taken_down_or_made_on_another_server(store: Store) -> None:
    await store.set_pages_on(GUILD, True)
    elsewhere = Requester(user_id=12, channel_id=22, guild_id=GUILD + 1)
    await song_of(store, GenerateRequest(prompt="x"), ROOT, "Private elsewhere", elsewhere)
    child_task = await song_of(store, ExtendRequest(clip_id=ROOT, continue_at=65.0, prompt="more"), CHILD, "Child")
    await song_of(store, ExtendRequest(clip_id=CHILD, continue_at=30.5, prompt="more"), GRANDCHILD, "Grandchild")
    await published(store, CHILD, child_task, "p-child")
    assert await store.page_lineage(GRANDCHILD, GUILD) == [
        LineageEntry("Child", 30.5, "p-child"),
        LineageEntry(None, 65.0, None, shown=False),  # another server's song: not even its title
    ]
    assert await store.take_down_pages(child_task) == 1
    assert await store.page_lineage(GRANDCHILD, GUILD) == [
        LineageEntry(None, 30.5, None, shown=False),  # its maker took it down
        LineageEntry(None, 65.0, None, shown=False),
    ]


async def test_a_take_down_removes_every_whole_song_built_on_the_tasks_songs(store: Store) -> None:
    await store.set_pages_on(GUILD, True)
    root_task = await song_of(store, GenerateRequest(prompt="x"), ROOT, "Root")
    child_task = await song_of(store, ExtendRequest(clip_id=ROOT, continue_at=65.0, prompt="more"), CHILD, "Child")
    leaf_task = await song_of(
        store, ExtendRequest(clip_id=CHILD, continue_at=30.5, prompt="more"), GRANDCHILD, "Grandchild"
    )
    other_task = await song_of(store, GenerateRequest(prompt="y"), OTHER, "Other")
    for clip, task_id, page_id in ((GRANDCHILD, leaf_task, "p-w-leaf"), (OTHER, other_task, "p-w-other")):
        await store.reserve_page(
            page_id, clip_id=clip, whole=True, guild_id=GUILD, task_id=task_id, makers=[], model=None
        )
        await store.record_page_message(page_id, 21, 600 + task_id)
    await published(store, GRANDCHILD, leaf_task, "p-leaf")
    await published(store, CHILD, child_task, "p-child", message_id=501)

    # The root's maker deletes their result: the whole song of the chain plays their audio, so it goes too.
    assert await store.take_down_pages(root_task) == 1
    assert await store.song_page("p-w-leaf") is None
    leaf = await store.song_page("p-leaf")
    assert leaf is not None and leaf.whole_page_id is None  # the song's page no longer plays it
    assert await store.song_page("p-child") is not None and await store.song_page("p-w-other") is not None
    assert await store.take_down_pages(child_task) == 1  # its own page; the whole song is down already


async def test_the_whole_song_page_carries_its_timeline(store: Store) -> None:
    await store.set_pages_on(GUILD, True)
    task_id = await song_of(store, GenerateRequest(prompt="x"), ROOT, "Root")
    assert await store.claim_whole_song(ROOT, guild_id=GUILD, channel_id=21, requested_by=11, stale_after=60)
    assert await store.record_whole_song(ROOT, channel_id=21, message_id=600, timeline_json='{"duration": 9}')
    await store.reserve_page("p-w", clip_id=ROOT, whole=True, guild_id=GUILD, task_id=task_id, makers=[], model=None)
    await store.record_page_message("p-w", 21, 600)
    page = await store.song_page("p-w")
    assert page is not None and page.whole and page.timeline_json == '{"duration": 9}'
    await published(store, ROOT, task_id, "p-song")
    song = await store.song_page("p-song")
    assert song is not None and song.whole_page_id == "p-w" and song.timeline_json is None


async def test_the_gallery_answers_only_while_on_with_showcase_and_top_songs(store: Store) -> None:
    await store.set_pages_on(GUILD, True)
    first = await song_of(store, GenerateRequest(prompt="x"), ROOT, "First")
    second = await song_of(store, GenerateRequest(prompt="y"), CHILD, "Second")
    hidden = await song_of(store, GenerateRequest(prompt="z"), GRANDCHILD, "No page")
    await published(store, ROOT, first, "p-first", message_id=500)
    await published(store, CHILD, second, "p-second", message_id=501)
    for user in (1, 2):
        await store.add_star(second, user)
    await store.add_star(first, 1)
    await store.add_star(hidden, 1)
    assert await store.claim_showcase(first)
    await store.record_showcase(first, 900)
    assert await store.gallery("g-1", since=0.0, limit=10) is None
    assert (await store.set_gallery(GUILD, "g-1")).gallery_id == "g-1"
    found = await store.gallery("g-1", since=0.0, limit=10)
    assert found is not None
    guild_id, showcase, top = found
    assert guild_id == GUILD
    assert [(entry.page_id, entry.title, entry.makers, entry.stars) for entry in showcase] == [
        ("p-first", "First", ("Ana",), 1)
    ]
    assert [(entry.page_id, entry.stars) for entry in top] == [("p-second", 2), ("p-first", 1)]
    later = await store.gallery("g-1", since=10e12, limit=10)
    assert later is not None and later[2] == []
    await store.set_gallery(GUILD, None)
    assert await store.gallery("g-1", since=0.0, limit=10) is None
    await store.set_gallery(GUILD, "g-2")
    await store.set_pages_on(GUILD, False)
    assert await store.gallery("g-2", since=0.0, limit=10) is None


async def test_a_pages_stamp_moves_with_every_settings_change_and_take_down_in_its_server(store: Store) -> None:
    """What the web server checks before it reuses a rendered page: the page's server's stamp."""
    await store.set_pages_on(GUILD, True)
    root_task = await song_of(store, GenerateRequest(prompt="x"), ROOT, "Root")
    child_task = await song_of(store, ExtendRequest(clip_id=ROOT, continue_at=65.0, prompt="more"), CHILD, "Child")
    await published(store, ROOT, root_task, "p-root")
    await published(store, CHILD, child_task, "p-child", message_id=501)

    async def stamp() -> float:
        page = await store.song_page("p-child")
        assert page is not None
        return page.pages_changed_at

    first = await stamp()
    assert first > 0 and await stamp() == first  # read twice, unchanged
    await store.set_gallery(GUILD, "g-1")
    after_settings = await stamp()
    assert after_settings != first
    assert await store.take_down_pages(root_task) == 1  # a parent's page: the child's row is otherwise the same
    assert await stamp() != after_settings


async def test_servers_publishing_are_those_with_pages_or_a_gallery_on(store: Store) -> None:
    assert await store.servers_publishing() == []
    await store.set_pages_on(GUILD + 2, True)
    await store.set_gallery(GUILD + 1, "gallery-1")
    await store.set_pages_on(GUILD, True)
    await store.set_pages_on(GUILD, False)  # turned off again: publishes nothing
    assert await store.servers_publishing() == [GUILD + 1, GUILD + 2]
