"""Who decides about song pages, through the service's door: managers' choices, take-downs, a server leaving."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.service.pages import SongPageChoices, new_public_id
from bot.store.sqlite import SqliteStore

GUILD = 31


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "encore.db")
    yield opened
    await opened.close()


async def test_the_gallery_gets_a_new_id_when_turned_on_and_keeps_it_while_on(store: SqliteStore) -> None:
    choices = SongPageChoices(store)
    assert await choices.settings(GUILD) == await store.page_settings(GUILD)
    on = await choices.change(GUILD, pages=True, gallery=True)
    assert on.pages_on and on.gallery_id is not None and len(on.gallery_id) == 22
    again = await choices.change(GUILD, gallery=True)
    assert again.gallery_id == on.gallery_id  # a link already shared keeps working
    off = await choices.change(GUILD, gallery=False)
    assert off.gallery_id is None and off.pages_on
    back = await choices.change(GUILD, gallery=True)
    assert back.gallery_id not in (None, on.gallery_id)  # the old link stays dead


async def test_a_server_that_leaves_has_pages_and_gallery_turned_off(store: SqliteStore) -> None:
    choices = SongPageChoices(store)
    await choices.change(GUILD, pages=True, gallery=True)
    await choices.server_left(GUILD)
    settings = await choices.settings(GUILD)
    assert (settings.pages_on, settings.gallery_id) == (False, None)


def test_public_ids_are_unguessable_and_url_safe() -> None:
    ids = {new_public_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", found) for found in ids)
