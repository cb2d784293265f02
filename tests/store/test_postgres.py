"""What only PostgreSQL has: migrations by processes starting at once, the schema mirroring SQLite's, shared
pacing of a provider key, and notifications that wake the other processes."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from pathlib import Path

import asyncpg
import pytest

from bot.domain.models import Clip, GenerateRequest, Requester, TaskStatus
from bot.store import StoreUnavailable
from bot.store.postgres import PostgresStore, migrations
from bot.store.sqlite import SqliteStore
from tests.support.postgres import fresh_database

# Columns and tables only PostgreSQL has: insertion order (SQLite's rowid), leases, shared pacing, the version.
POSTGRES_ONLY = {"songs.seq", "tasks.lease_owner", "tasks.lease_until", "pacer", "schema_migrations"}


async def test_two_processes_migrating_an_empty_database_at_once_migrate_it_once() -> None:
    async with fresh_database() as url:
        first, second = await asyncio.gather(PostgresStore.open(url), PostgresStore.open(url))
        try:
            assert await first.schema_version() == await second.schema_version() == len(migrations())
            task = await first.get_task(1)
            assert task is None
        finally:
            await first.close()
            await second.close()
        connection = await asyncpg.connect(url)
        try:
            applied = await connection.fetch("SELECT version FROM schema_migrations ORDER BY version")
        finally:
            await connection.close()
        assert [row["version"] for row in applied] == list(range(1, len(migrations()) + 1))


async def test_reopening_a_migrated_database_changes_nothing() -> None:
    async with fresh_database() as url:
        store = await PostgresStore.open(url)
        await store.set_meta("commands_hash", "abc")
        await store.close()
        reopened = await PostgresStore.open(url)
        try:
            assert await reopened.migrate() == len(migrations())
            assert await reopened.get_meta("commands_hash") == "abc"
        finally:
            await reopened.close()


async def test_the_schema_has_the_tables_and_columns_of_sqlites(tmp_path: Path) -> None:
    """Every SQLite migration has its PostgreSQL counterpart: the same tables, columns and indexes."""
    sqlite_path = tmp_path / "encore.db"
    await (await SqliteStore.open(sqlite_path)).close()
    with sqlite3.connect(sqlite_path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        sqlite_names = {*tables, *(f"{t}.{info[1]}" for t in tables for info in db.execute(f"PRAGMA table_info({t})"))}
        sqlite_indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    async with fresh_database() as url:
        await (await PostgresStore.open(url)).close()
        connection = await asyncpg.connect(url)
        try:
            columns = await connection.fetch(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
            )
            indexes = await connection.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
        finally:
            await connection.close()
    postgres_names = {row["table_name"] for row in columns} | {f"{r['table_name']}.{r['column_name']}" for r in columns}
    postgres_only = {name for name in postgres_names if name.split(".")[0] in POSTGRES_ONLY or name in POSTGRES_ONLY}
    assert postgres_names - postgres_only == sqlite_names
    named_indexes = {row["indexname"] for row in indexes if not row["indexname"].endswith("_pkey")}
    assert {name for name in sqlite_indexes if not name.startswith("sqlite_")} <= named_indexes


async def test_processes_sharing_a_pacer_get_distinct_slots_an_interval_apart() -> None:
    async with fresh_database() as url:
        stores = await asyncio.gather(*(PostgresStore.open(url) for _ in range(3)))
        try:
            pacers = [store.pacer("sunoapi:key:poll", 2, 0.5) for store in stores]
            sent: list[float] = []

            async def send(pacer_index: int) -> None:
                for _ in range(4):
                    async with pacers[pacer_index].slot():
                        sent.append(time.monotonic())

            await asyncio.gather(*(send(index) for index in range(3)))
        finally:
            for store in stores:
                await store.close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(sorted(sent))]
    assert len(sent) == 12
    assert min(gaps) >= 0.25  # 2 calls per 0.5 s in total, whoever sends
    assert pacers[0].rate == pytest.approx(4 / 1.05)


async def test_a_back_off_keeps_every_process_out() -> None:
    async with fresh_database() as url:
        first, second = await asyncio.gather(PostgresStore.open(url), PostgresStore.open(url))
        try:
            # Read before the back-off is asked for: the database sets it from its clock during the call, so an
            # instant read after the call returns may already be late by however long this process was paused.
            started = time.monotonic()
            await first.pacer("k", 1, 0.01).back_off(0.3)
            async with second.pacer("k", 1, 0.01).slot():
                assert time.monotonic() - started >= 0.3 - 0.001  # less a rounding: the database keeps microseconds
        finally:
            await first.close()
            await second.close()


async def test_other_processes_hear_of_queued_and_succeeded_tasks() -> None:
    async with fresh_database() as url:
        worker, gateway = await asyncio.gather(PostgresStore.open(url), PostgresStore.open(url))
        heard: asyncio.Queue[tuple[TaskStatus, int]] = asyncio.Queue()
        try:
            await worker.listen(lambda status, task_id: heard.put_nowait((status, task_id)))
            task = await gateway.create_task(Requester(11, 21, 31), "sunoapi", GenerateRequest(prompt="a"))
            assert task is not None
            assert await asyncio.wait_for(heard.get(), timeout=5) == (TaskStatus.QUEUED, task.id)
            assert await gateway.mark_submitted(task.id, "p-1", next_poll_at=0)
            assert await gateway.mark_succeeded(task, [Clip("c1", "https://a/1.mp3", None)])
            assert await asyncio.wait_for(heard.get(), timeout=5) == (TaskStatus.SUCCEEDED, task.id)
        finally:
            await worker.close()
            await gateway.close()


async def test_a_database_migrated_by_a_newer_encore_is_refused() -> None:
    async with fresh_database() as url:
        await (await PostgresStore.open(url)).close()
        connection = await asyncpg.connect(url)
        try:
            await connection.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
        finally:
            await connection.close()
        with pytest.raises(StoreUnavailable, match="schema version 99, written by a newer Encore"):
            await PostgresStore.open(url)
