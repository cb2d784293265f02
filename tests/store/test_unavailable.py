"""A database that cannot do the work now raises `StoreUnavailable` from each backend's connector, in one line,
and the store works again once the fault is gone: the callers that catch it (a listening session saving its queue)
log it and go on, the others answer the member."""

from __future__ import annotations

import sqlite3
import urllib.parse
from pathlib import Path

import pytest

from bot.store import StoreUnavailable
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.reliability.harness import write_lock_held
from tests.support.postgres import fresh_database


async def test_sqlite_locked_past_its_busy_timeout_is_unavailable_then_writes_again(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    store = await SqliteStore.open(database)
    try:
        await store._db.value("PRAGMA busy_timeout = 50")  # how long SQLite waits for the lock (5 s in use)
        with write_lock_held(database):
            assert await store.get_meta("colour") is None  # reads go on beside the writer (WAL)
            with pytest.raises(StoreUnavailable) as refused:
                await store.set_meta("colour", "blue")
        assert str(refused.value) == "is locked by another program, which holds its write lock (database is locked)"
        await store.set_meta("colour", "blue")
        assert await store.get_meta("colour") == "blue"
    finally:
        await store.close()


async def test_sqlite_keeps_a_querys_own_fault_as_it_is(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "encore.db")
    try:
        with pytest.raises(sqlite3.OperationalError, match="no such table"):  # a bug to see, not an outage
            await store._db.value("SELECT * FROM no_such_table")
    finally:
        await store.close()


async def test_postgres_connection_lost_mid_query_is_unavailable_then_works_again() -> None:
    async with fresh_database() as url:
        store = await PostgresStore.open(url)
        try:
            with pytest.raises(StoreUnavailable) as refused:  # the server ends the connection under the query
                await store._db.value("SELECT pg_terminate_backend(pg_backend_pid())")
            message = str(refused.value)
            assert message.startswith("PostgreSQL cannot be used now (") and "\n" not in message
            password = urllib.parse.urlsplit(url).password
            assert not password or password not in message
            await store.set_meta("colour", "blue")  # the pool opens a new connection
            assert await store.get_meta("colour") == "blue"
        finally:
            await store.close()
