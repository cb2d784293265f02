"""`python -m bench.scale`: Encore on PostgreSQL with several processes, four measurements.

Needs a PostgreSQL server: `scripts/bench-scale` starts a throwaway one (like `scripts/test`), or set
`ENCORE_TEST_DATABASE_URL`. `--tiny` runs in seconds (what the smoke test runs). Writes bench/results/scale.json.

1. provider budget: 500 sunoapi.co tasks in flight, polled by 1, 2 and 4 worker processes sharing one key at the
   documented limits (2 polls/s): polls per second in total against the limit, and rate-limit answers;
2. takeover: a process SIGKILLed while it posts results; seconds until another process posts them again;
3. gateway load: the real bot's CPU seconds while the fake Discord floods message and typing events, with
   Encore's intents and with `Intents.default()`, both connected in the same run;
4. store hot paths on PostgreSQL and SQLite with 100,000 tasks (5,000 due polls): claiming a poll, recording its
   answer, and autocomplete; SQLite's claim also without migration 0008's covering index, in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench.run import (
    bench_arguments,
    bot_env,
    markdown_table,
    peak_in_window,
    run_in_workdir,
    start_bot_process,
    stop_bot_process,
    summary_ms,
)
from bot.domain.models import ExtendRequest, GenerateRequest, Requester, TaskStatus
from bot.store import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from bot.store.sqlite import migrations as sqlite_migrations
from tests.e2e.harness import PROVIDER_KEY
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, USER_ID, FakeDiscord
from tests.fakes.providers import FakeApiframe, FakeSunoApi
from tests.support.postgres import URL_VARIABLE, fresh_database

CLIP = "3f2a1c9b-1111-4222-8333-444455556666"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sizes:
    in_flight: int  # part 1: tasks at the provider
    processes: tuple[int, ...]  # part 1: how many processes share the key, one run each
    window: float  # part 1: seconds of measured polling per run
    lease_seconds: float  # part 2: LEASE_SECONDS
    takeovers: int  # part 2: results being posted when their process dies
    flood: int  # part 3: gateway events
    history: int  # part 4: tasks (and songs) in the store
    operations: int  # part 4: timed calls of each hot path


FULL = Sizes(500, (1, 2, 4), 30.0, 10.0, 4, 20_000, 100_000, 300)
TINY = Sizes(20, (1, 2), 2.5, 2.0, 1, 400, 2_000, 20)


def requester(number: int) -> Requester:
    return Requester(user_id=USER_ID + number % 100, channel_id=CHANNEL_ID, guild_id=GUILD_ID)


def worker_env(discord: FakeDiscord, url: str, workdir: Path, provider: dict[str, str], **extra: str) -> dict[str, str]:
    """A worker process (no gateway) on the shared database; its files (the audio cache) go to `workdir`."""
    return {
        **bot_env(discord, workdir / "unused.db", provider),
        "DATABASE_URL": url,
        "SHARD_IDS": "none",
        "MAX_ACTIVE_TASKS_PER_USER": "0",
        "DAILY_TASKS_PER_USER": "0",
        **extra,
    }


# ---------------------------------------------------------------- part 1: one provider budget, many processes


async def provider_budget(sizes: Sizes, processes: int, workdir: Path) -> dict[str, Any]:
    """`in_flight` sunoapi tasks due at once, polled for `window` seconds by `processes` workers sharing the key."""
    async with (
        fresh_database() as url,
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, clock=time.perf_counter, submit_interval=4.0, poll_per_second=2) as suno,
    ):
        store = await PostgresStore.open(url)
        for number, provider_task in enumerate(suno.seed_in_flight(sizes.in_flight)):
            task = await store.create_task(requester(number), "sunoapi", ExtendRequest(CLIP, 30.0, prompt=str(number)))
            assert task is not None
            await store.mark_submitted(task.id, provider_task, next_poll_at=0)
        await store.close()
        provider = {
            "SUNOAPI_KEY": PROVIDER_KEY,
            "SUNOAPI_BASE_URL": suno.base_url,
            "SUNOAPI_SUBMIT_INTERVAL_SECONDS": "4",
            "SUNOAPI_POLLS_PER_SECOND": "2",
            "POLL_INTERVAL_SECONDS": "5",
        }
        started = await asyncio.gather(
            *(start_bot_process(worker_env(discord, url, workdir, provider)) for _ in range(processes))
        )
        window_start = time.perf_counter()
        await asyncio.sleep(sizes.window)
        window_end = time.perf_counter()
        for process, _ in started:
            await stop_bot_process(process)
    polls = [r.time for r in suno.requests if r.path.endswith("/get-task") and window_start <= r.time <= window_end]
    return {
        "processes": processes,
        "tasks_in_flight": sizes.in_flight,
        "window_s": sizes.window,
        "polls": len(polls),
        "polls_per_s": round(len(polls) / sizes.window, 2),
        "peak_polls_in_1s": peak_in_window(polls, 1.0),
        "limit_per_s": 2,
        "rate_limit_answers": len(suno.rate_limit_violations),
    }


# ---------------------------------------------------------------- part 2: takeover after SIGKILL


async def takeover(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    """Two workers; the one posting results is killed while Discord holds its answers; when are they posted again
    (by the other, once the leases ran out)?"""
    lease = str(sizes.lease_seconds)
    async with fresh_database() as url, FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        store = await PostgresStore.open(url)
        ids = []
        for number in range(sizes.takeovers):
            provider_task = str(uuid.uuid4())
            apiframe.seed_task(provider_task, songs=[str(uuid.uuid4())])  # finished: the first poll succeeds
            # One channel each: discord.py sends a channel's messages one after the other, and Discord holds these.
            channel = await discord.add_channel(f"results-{number}")
            where = Requester(USER_ID + number, channel, GUILD_ID)
            task = await store.create_task(where, "apiframe", GenerateRequest(prompt=str(number)))
            assert task is not None and await store.mark_submitted(task.id, provider_task, next_poll_at=0)
            ids.append(task.id)
        await store.close()
        # Posting answers come late (the message is stored first): the killed poster leaves half-posted results.
        discord.inject("POST", r"/channels/\d+/messages", None, times=sizes.takeovers, delay=3600)
        provider = {
            "APIFRAME_KEY": PROVIDER_KEY,
            "APIFRAME_BASE_URL": apiframe.base_url,
            "POLL_INTERVAL_SECONDS": "0.2",
        }
        env = worker_env(discord, url, workdir, provider, LEASE_SECONDS=lease)
        workers = {process.pid: process for process, _ in [await start_bot_process(env) for _ in range(2)]}
        posters = await _posters(url, ids, workers)
        await _sent(discord, ids, after=0.0, within=60)  # each result is on the wire: the poster dies mid-post
        killed_at = time.perf_counter()
        victim = next(iter(posters.values()))
        workers.pop(victim.pid).kill()
        held = [task_id for task_id, process in posters.items() if process is victim]
        reposted = await _sent(discord, held, after=killed_at, within=sizes.lease_seconds * 3 + 10)
        for process in workers.values():
            await stop_bot_process(process)
    delays = list(reposted.values())
    return {
        "lease_seconds": sizes.lease_seconds,
        "taken_over": len(delays),
        "held_by_killed_process": len(held),
        "reposted_after_s": {
            "min": round(min(delays), 2),
            "median": round(statistics.median(delays), 2),
            "max": round(max(delays), 2),
        },
    }


async def _posters(
    url: str, ids: Sequence[int], workers: dict[int, asyncio.subprocess.Process]
) -> dict[int, asyncio.subprocess.Process]:
    """Task id → the worker holding its delivery lease, once every task is being posted (read from outside)."""
    async with asyncio.timeout(60):
        while True:
            db = await asyncpg.connect(url)
            try:
                rows = await db.fetch("SELECT id, status, lease_owner FROM tasks WHERE id = ANY($1::bigint[])", ids)
            finally:
                await db.close()
            holders = {
                row["id"]: next(p for pid, p in workers.items() if f":{pid}:" in (row["lease_owner"] or ""))
                for row in rows
                if row["status"] == TaskStatus.SUCCEEDED and row["lease_owner"]
            }
            if len(holders) == len(ids):
                return holders
            await asyncio.sleep(0.05)


async def _sent(discord: FakeDiscord, ids: Sequence[int], *, after: float, within: float) -> dict[int, float]:
    """Task id → seconds after `after` at which its result was first sent to Discord after that moment."""

    def found() -> dict[int, float] | None:
        first: dict[int, float] = {}
        for request in discord.requests:
            nonce = request.json.get("nonce") if isinstance(request.json, dict) else None
            if (
                request.method == "POST"
                and request.at > after
                and isinstance(nonce, str)
                and nonce.startswith("encore-")
            ):
                first.setdefault(int(nonce.removeprefix("encore-")), request.at - after)
        sent = {task_id: first[task_id] for task_id in ids if task_id in first}
        return sent if len(sent) == len(ids) else None

    async with asyncio.timeout(within):
        while (sent := found()) is None:  # noqa: ASYNC110 - reads the fake's request log, which has no event
            await asyncio.sleep(0.02)
    return sent


# ---------------------------------------------------------------- part 3: gateway load by intents


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def settled_cpu(pids: Sequence[int]) -> list[float]:
    """Each process's CPU seconds once none of them is busy any more (two equal readings 0.3 s apart)."""
    last = [cpu_seconds(pid) for pid in pids]
    while True:
        await asyncio.sleep(0.3)
        now = [cpu_seconds(pid) for pid in pids]
        if all(after - before < 0.02 for before, after in zip(last, now, strict=True)):
            return now
        last = now


async def gateway_load(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        provider = {"APIFRAME_KEY": PROVIDER_KEY, "APIFRAME_BASE_URL": apiframe.base_url}
        bots = {}
        for intents in ("encore", "default"):
            env = bot_env(discord, workdir / f"intents-{intents}.db", provider)
            process, _ = await start_bot_process(env, ("-m", "bench.intents_bot", intents))
            bots[intents] = process
        await discord.wait_for_identify(2)
        pids = [process.pid for process in bots.values()]
        before = await settled_cpu(pids)
        started = time.perf_counter()
        await discord.flood(CHANNEL_ID, sizes.flood)
        after = await settled_cpu(pids)
        flood_seconds = time.perf_counter() - started
        received = dict(discord.dispatched)
        for process in bots.values():
            await stop_bot_process(process)
    used = {name: round(end - start, 2) for name, start, end in zip(bots, before, after, strict=True)}
    return {
        "events": sizes.flood,
        "cpu_seconds": used,
        "events_sent": {name: received.get(name, 0) for name in ("MESSAGE_CREATE", "TYPING_START")},
        "flood_seconds": round(flood_seconds, 1),
    }


# ---------------------------------------------------------------- part 4: store hot paths


async def fill(store: Store, history: int) -> None:
    """`history` tasks, one song each, over 100 members: most posted, a few at the provider and queued."""
    if isinstance(store, PostgresStore):
        await _fill_postgres(store, history)
    else:
        await _fill_sqlite(store, history)  # type: ignore[arg-type]


def _rows(history: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    now = time.time()
    tasks, songs = [], []
    for number in range(1, history + 1):
        status = "running" if number % 20 == 0 else "queued" if number % 20 == 1 else "delivered"
        created = now - (history - number)
        tasks.append(
            (
                number,
                "generate",
                status,
                "sunoapi",
                f"p-{number}",
                USER_ID + number % 100,
                GUILD_ID,
                CHANNEL_ID,
                json.dumps({"prompt": str(number)}),
                f"f-{number}",
                created,
                created,
                created,
                0.0 if status == "running" else created,
            )
        )
        songs.append(
            (
                f"clip-{number}",
                "sunoapi",
                f"p-{number}",
                number,
                USER_ID + number % 100,
                GUILD_ID,
                f"Song {number}",
                120.0,
                created,
            )
        )
    return tasks, songs


TASK_FIELDS = (
    "id",
    "kind",
    "status",
    "provider",
    "provider_task_id",
    "requester_id",
    "guild_id",
    "channel_id",
    "request_json",
    "fingerprint",
    "last_change_at",
    "created_at",
    "updated_at",
    "next_attempt_at",
)
SONG_FIELDS = (
    "clip_id",
    "provider",
    "provider_task_id",
    "task_id",
    "owner_id",
    "guild_id",
    "title",
    "duration",
    "created_at",
)


async def _fill_postgres(store: PostgresStore, history: int) -> None:
    tasks, songs = _rows(history)
    async with store._connector.connection() as db:
        await db.copy_records_to_table("tasks", records=tasks, columns=TASK_FIELDS)
        await db.copy_records_to_table("songs", records=songs, columns=SONG_FIELDS)
        await db.execute("SELECT setval(pg_get_serial_sequence('tasks', 'id'), $1)", history)
        await db.execute("ANALYZE")


async def _fill_sqlite(store: SqliteStore, history: int) -> None:
    tasks, songs = _rows(history)
    async with store._db.transaction() as db:
        for table, fields, rows in (("tasks", TASK_FIELDS, tasks), ("songs", SONG_FIELDS, songs)):
            marks = ", ".join(f"${number}" for number in range(1, len(fields) + 1))
            await db.executemany(f"INSERT INTO {table} ({', '.join(fields)}) VALUES ({marks})", rows)
    await store._db.execute("ANALYZE")


async def hot_paths(store: Store, operations: int) -> dict[str, Any]:
    claim, record, autocomplete = [], [], []
    for number in range(operations):
        started = time.perf_counter()
        [task] = await store.claim_due_polls("sunoapi", "bench", time.time(), 1, 30.0)
        claimed = time.perf_counter()
        await store.record_poll(
            task,
            status=TaskStatus.RUNNING,
            provider_status=f"streaming {number}",
            progress=None,
            next_poll_at=time.time() + 3600,
        )
        recorded = time.perf_counter()
        await store.recent_songs(USER_ID + number % 100, f"song {number % 10}")
        done = time.perf_counter()
        claim.append(claimed - started)
        record.append(recorded - claimed)
        autocomplete.append(done - recorded)
    return {
        "claim_poll": summary_ms(claim),
        "record_poll": summary_ms(record),
        "autocomplete": summary_ms(autocomplete),
    }


async def store_hot_paths(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    results = {}
    sqlite = await SqliteStore.open(workdir / "hot.db")
    await fill(sqlite, sizes.history)
    # The same database without the covering index of migration 0008 first (schema v7), then with it.
    [due_polls_index] = [sql for sql in sqlite_migrations()[7][2].split(";") if "INDEX tasks_due_polls" in sql]
    await sqlite._db.execute("DROP INDEX tasks_due_polls")
    await sqlite._db.execute("ANALYZE")
    results["sqlite_v7"] = await hot_paths(sqlite, sizes.operations)
    await sqlite._db.execute("UPDATE tasks SET next_attempt_at = 0 WHERE status = 'running'")  # all due again
    await sqlite._db.execute(due_polls_index)
    await sqlite._db.execute("ANALYZE")
    results["sqlite"] = await hot_paths(sqlite, sizes.operations)
    await sqlite.close()
    async with fresh_database() as url:
        postgres = await PostgresStore.open(url)
        await fill(postgres, sizes.history)
        results["postgres"] = await hot_paths(postgres, sizes.operations)
        await postgres.close()
    due = sum(1 for number in range(1, sizes.history + 1) if number % 20 == 0)
    return {"tasks": sizes.history, "songs": sizes.history, "due_polls": due, **results}


# ---------------------------------------------------------------- the run


async def run_all(sizes: Sizes, workdir: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    results: dict[str, Any] = {"sizes": asdict(sizes)}
    results["provider_budget"] = [await provider_budget(sizes, count, workdir) for count in sizes.processes]
    progress(f"part 1 done at {time.perf_counter() - started:.1f} s")
    results["takeover"] = await takeover(sizes, workdir)
    progress(f"part 2 done at {time.perf_counter() - started:.1f} s")
    results["gateway_load"] = await gateway_load(sizes, workdir)
    progress(f"part 3 done at {time.perf_counter() - started:.1f} s")
    results["store"] = await store_hot_paths(sizes, workdir)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    return results


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []
    for run in results["provider_budget"]:
        rows.append(
            (
                f"1. sunoapi.co budget, {run['tasks_in_flight']} tasks in flight, {run['processes']} process(es)",
                f"{run['polls_per_s']} polls/s in total · peak {run['peak_polls_in_1s']} in 1 s (limit 2) · "
                f"{run['rate_limit_answers']} rate-limit answers",
                "peak ≤ 2, 0 answers",
            )
        )
    take = results["takeover"]
    rows.append(
        (
            f"2. takeover after SIGKILL mid-post, LEASE_SECONDS={take['lease_seconds']:g}",
            f"{take['taken_over']}/{take['held_by_killed_process']} results posted again after "
            f"{take['reposted_after_s']['min']}–{take['reposted_after_s']['max']} s (median "
            f"{take['reposted_after_s']['median']} s)",
            "≤ lease + a rescan",
        )
    )
    load = results["gateway_load"]
    rows.append(
        (
            f"3. gateway load, {load['events']:,} message/typing events",
            f"Encore's intents {load['cpu_seconds']['encore']} CPU s · Intents.default() "
            f"{load['cpu_seconds']['default']} CPU s",
            "only what Encore reads",
        )
    )
    store = results["store"]
    before = store["sqlite_v7"]["claim_poll"]
    rows.append(
        (
            f"4. SQLite: claim a due poll, {store['due_polls']:,} due of {store['tasks']:,} tasks",
            f"p50 {store['sqlite']['claim_poll']['p50_ms']} ms · p99 {store['sqlite']['claim_poll']['p99_ms']} ms; "
            f"same run without migration 0008's index: p50 {before['p50_ms']} ms · p99 {before['p99_ms']} ms",
            "p99 < 20 ms",
        )
    )
    for path, label in (
        ("claim_poll", "claim a due poll"),
        ("record_poll", "record a poll"),
        ("autocomplete", "autocomplete"),
    ):
        rows.append(
            (
                f"4. {label}, {store['tasks']:,} tasks",
                f"PostgreSQL p50 {store['postgres'][path]['p50_ms']} ms · p99 {store['postgres'][path]['p99_ms']} ms; "
                f"SQLite p50 {store['sqlite'][path]['p50_ms']} ms · p99 {store['sqlite'][path]['p99_ms']} ms",
                "< 20 ms",
            )
        )
    return markdown_table(rows)


def main(argv: Sequence[str] | None = None, *, out: Callable[[str], None] = print) -> int:
    args = bench_arguments("python -m bench.scale", __doc__, "scale.json", argv)
    if not os.environ.get(URL_VARIABLE):
        out(f"bench.scale needs PostgreSQL: run scripts/bench-scale, or set {URL_VARIABLE}")
        return 2
    sizes = TINY if args.tiny else FULL
    results = run_in_workdir("encore-bench-scale", lambda workdir: run_all(sizes, workdir, out), args.output)
    out(table(results))
    out(f"total {results['total_seconds']} s; JSON written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
