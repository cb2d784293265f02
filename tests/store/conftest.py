"""The store contract runs on every backend: each test here takes `store`, opened fresh on each of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.support.postgres import fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened: Store
    if request.param == "sqlite":
        opened = await SqliteStore.open(tmp_path / "encore.db")
        yield opened
        await opened.close()
        return
    async with fresh_database() as url:
        opened = await PostgresStore.open(url)
        yield opened
        await opened.close()
