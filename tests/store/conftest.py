"""The store contract runs on every backend: each test here takes `store`, opened fresh on each of them.

`claimers` is two stores on one database, as two processes have them: two connections of PostgreSQL, and for
SQLite (one process by design) the same store twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.support.postgres import fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
async def claimers(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    if request.param == "sqlite":
        opened = await SqliteStore.open(tmp_path / "encore.db")
        yield opened, opened
        await opened.close()
        return
    async with fresh_database() as url:
        first = await PostgresStore.open(url)
        second = await PostgresStore.open(url)
        yield first, second
        await first.close()
        await second.close()


@pytest.fixture
def store(claimers: tuple[Store, Store]) -> Store:
    return claimers[0]
