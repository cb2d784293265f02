"""Encore on the sunoapi.org contract: its budget held with many tasks in flight, and callback delivery latency.

Run from the repository root: `python -m bench.sunoapi_org` (full: about four minutes on 2 cores) or with
`--tiny` (seconds; what the smoke test runs). Prints a table and writes bench/results/sunoapi_org.json.

1. budget: 200 /extend at once against the fake at the documented limits (20 submissions per 10 s per key,
   record-info 3 per second per task), the real `python -m bot` paced by its defaults, polling only; counted at
   the fake: peak submissions in any 10 s, peak record-info of one task in any second, rate-limit answers;
2. callback → upload: tasks finished at the fake, each result's callback POSTed to the bot's per-task URL, timed
   from the callback's start to the upload request of the 5 MB result reaching Discord (polling set to 600 s, so
   only the callback can start it: the bot then reads the result with one record-info, never from the callback).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.run import (
    MP3_BYTES,
    bench_arguments,
    bot_env,
    generation_on_a_clock,
    is_result,
    markdown_table,
    peak_in_window,
    run_in_workdir,
    start_bot_process,
    stop_bot_process,
    summary_ms,
    upload_times,
)
from tests.e2e.harness import PROVIDER_KEY, free_port, running_bot, settings_for, webhook_env
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.fakes.sunoapi_org import FakeSunoApiOrg

SONG = "3f2a1c9b-1111-4222-8333-444455556666"
SUBMIT_LIMIT, SUBMIT_WINDOW = 20, 10.0  # documented: 20 new generation requests per 10 s per key
POLLS_PER_TASK = 3  # record-info at most 3 per second per task


@dataclass(frozen=True)
class Sizes:
    in_flight: int  # part 1: concurrent /extend
    time_scale: float  # part 1: multiplies the fake generation times
    window: float  # part 1: seconds measured after the burst
    deliveries: int  # part 2


FULL = Sizes(200, 1.0, 180.0, 20)
TINY = Sizes(6, 0.05, 4.0, 2)


def extend_options(n: int) -> dict[str, str]:
    return {"song": SONG, "at": "1:05", "lyrics": f"[Verse]\ntake {n}", "style": "folk", "title": f"Take {n}"}


async def budget(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    """`in_flight` extends at once, generated on a clock like Suno's; what the provider saw."""
    async with (
        FakeDiscord() as discord,
        FakeSunoApiOrg(
            PROVIDER_KEY,
            clock=time.perf_counter,
            submit_limit=SUBMIT_LIMIT,
            submit_window=SUBMIT_WINDOW,
            polls_per_task=POLLS_PER_TASK,
            credits=10**9,
        ) as suno,
    ):
        suno.seed_clip(SONG, model="V5_5", duration=300.0)
        provider = {
            "SUNOAPI_ORG_KEY": PROVIDER_KEY,
            "SUNOAPI_ORG_BASE_URL": suno.base_url,
            "POLL_INTERVAL_SECONDS": str(max(0.5, 5 * sizes.time_scale)),
            "MAX_ACTIVE_TASKS_PER_USER": "0",
            "DAILY_TASKS_PER_USER": "0",
            "USER_COOLDOWN_SECONDS": "0",
        }
        process, _ = await start_bot_process(bot_env(discord, workdir / "budget.db", provider))
        started = time.perf_counter()
        try:
            async with generation_on_a_clock(suno, sizes.time_scale) as finished_at:
                commands = await asyncio.gather(
                    *(discord.invoke_command("extend", extend_options(n)) for n in range(sizes.in_flight))
                )
                await asyncio.gather(*(command.wait_response(timeout=60) for command in commands))
                await asyncio.sleep(sizes.window)
        finally:
            await stop_bot_process(process)
        submits = [r.time for r in suno.requests if r.path.endswith("/generate/extend")]
        polls_by_task: dict[str, list[float]] = {}
        for poll in suno.polls:
            polls_by_task.setdefault(poll.task_id, []).append(poll.time)
        noticed = []
        for task_id, finished in finished_at.items():
            seen = [p.time for p in suno.polls if p.task_id == task_id and p.status == "SUCCESS"]
            if seen:
                noticed.append(seen[0] - finished)
        return {
            "tasks": sizes.in_flight,
            "seconds": round(time.perf_counter() - started, 1),
            "submitted": len(suno.submits),
            "record_info_requests": len(suno.polls),
            "peak_submits_in_10s": peak_in_window(submits, SUBMIT_WINDOW),
            "peak_polls_of_one_task_in_1s": max((peak_in_window(t, 1.0) for t in polls_by_task.values()), default=0),
            "rate_limit_answers": len(suno.rate_limit_violations),
            "tasks_finished": len(finished_at),
            "finished_noticed": len(noticed),
            "noticed_delay": summary_ms(noticed),
        }


async def callback_to_upload(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    """Finish tasks one by one; each result travels by its own callback to the bot and on to Discord."""
    async with (
        FakeDiscord() as discord,
        FakeSunoApiOrg(PROVIDER_KEY, clock=time.perf_counter, audio_size=MP3_BYTES, submit_window=1.0) as suno,
    ):
        suno.seed_clip(SONG, model="V5_5", duration=300.0)
        env = {
            "SUNOAPI_ORG_KEY": PROVIDER_KEY,
            "SUNOAPI_ORG_BASE_URL": suno.base_url,
            "SUNOAPI_ORG_SUBMITS_PER_SECOND": "20",
            "MAX_ACTIVE_TASKS_PER_USER": "0",
            "DAILY_TASKS_PER_USER": "0",
            "LOG_LEVEL": "WARNING",
            **webhook_env(free_port()),
        }
        settings = settings_for(discord, workdir / "callbacks.db", env)
        async with running_bot(discord, settings) as running:
            provider_ids = []
            for n in range(sizes.deliveries):
                await discord.invoke_command("extend", extend_options(n))
                submit = await suno.wait_for_submit()
                suno.hold(submit.task_id)
                provider_ids.append(submit.task_id)
            called_at: dict[str, float] = {}
            for task_id in provider_ids:
                await asyncio.sleep(random.uniform(0.2, 1.0) * min(1.0, 4 * sizes.time_scale))
                suno.finish(task_id)
                delivery = await suno.wait_for_callback(task_id, timeout=30)
                called_at[task_id] = delivery.time
            await discord.wait_until(
                lambda: len([m for m in discord.messages(CHANNEL_ID) if is_result(m)]) >= sizes.deliveries, 120
            )
            delays = []
            for encore_id, upload_at in upload_times(discord).items():
                task = await running.bot.store.get_task(encore_id)
                if task and task.provider_task_id in called_at:
                    delays.append(upload_at - called_at[task.provider_task_id])
        return {"record_info_requests": len(suno.polls), **summary_ms(delays)}


async def run_all(sizes: Sizes, workdir: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    results: dict[str, Any] = {"sizes": asdict(sizes), "budget": await budget(sizes, workdir)}
    progress(f"part 1 done at {time.perf_counter() - started:.1f} s")
    results["callback_to_upload"] = await callback_to_upload(sizes, workdir)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    return results


def table(results: dict[str, Any]) -> str:
    load, callbacks = results["budget"], results["callback_to_upload"]
    return markdown_table(
        [
            (
                f"1. sunoapi.org budget, {load['tasks']} extends at once, {load['seconds']:g} s",
                f"{load['submitted']} submitted · peak {load['peak_submits_in_10s']} submissions/10 s (limit "
                f"{SUBMIT_LIMIT}) · peak {load['peak_polls_of_one_task_in_1s']} record-info/task/s (limit "
                f"{POLLS_PER_TASK}) · {load['record_info_requests']} record-info · "
                f"{load['rate_limit_answers']} rate-limit answers",
                "0 rate-limit answers",
            ),
            (
                "1. completion noticed after finishing (polling only)",
                f"{load['finished_noticed']}/{load['tasks_finished']} noticed · "
                f"p50 {load['noticed_delay'].get('p50_ms')} ms · max {load['noticed_delay'].get('max_ms')} ms",
                "reference",
            ),
            (
                "2. callback → upload (5 MB mp3)",
                f"p50 {callbacks.get('p50_ms')} ms · p95 {callbacks.get('p95_ms')} ms · "
                f"max {callbacks.get('max_ms')} ms · {callbacks['record_info_requests']} record-info",
                "p95 < 1 s",
            ),
        ]
    )


def main(argv: Sequence[str] | None = None, *, out: Callable[[str], None] = print) -> int:
    args = bench_arguments("python -m bench.sunoapi_org", __doc__, "sunoapi_org.json", argv)
    sizes = TINY if args.tiny else FULL
    out(f"Encore on the sunoapi.org contract: real bot vs the local fake; {'tiny' if args.tiny else 'full'} sizes.")
    results = run_in_workdir("encore-bench-org", lambda workdir: run_all(sizes, workdir, out), args.output)
    out(table(results))
    out(f"total {results['total_seconds']} s; JSON written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
