"""Song pages' cost: the weight of a page as Chromium loads it, and time to first byte under 100 concurrent clients
(`python -m bench.pages`). The goal is a p95 under 50 ms on the 2-core machine.

The server is the one the page tests use (a real SQLite store, real MP3s, the page routes on 127.0.0.1), run in its
own process so the load generator does not share its event loop. Each time-to-first-byte figure is set beside the
stylesheet's in the same run: a route that touches neither the database nor the templates, the server's floor.
The per-address rate limit is opened wide for the run (every client here is 127.0.0.1), so this measures serving,
not refusing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp

from bench.run import markdown_table
from bot.web.pages.guard import AddressLimiter
from tests.pages.site import published_site
from tests.support.browser import ARGS, CHROMIUM

CLIENTS = 100
REQUESTS_PER_CLIENT = 20


def serve(pipe: Connection) -> None:
    """The child process: publish the test site, send its address, serve until told to stop."""

    async def run() -> None:
        with tempfile.TemporaryDirectory(prefix="encore-bench-pages-") as folder:
            wide_open = AddressLimiter(rate=1e9, burst=10**9)
            async with published_site(Path(folder), limiter=wide_open, child_title="Night Drive (extended)") as site:
                pipe.send({"base": site.base_url, "song": site.song_page, "whole": site.whole_page})
                await asyncio.to_thread(pipe.recv)

    asyncio.run(run())


async def page_weight(base: str, path: str) -> dict[str, Any]:
    """Requests and bytes (headers and bodies) when Chromium loads the page until the network is idle."""
    from playwright.async_api import Request, async_playwright

    finished: list[Request] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = await browser.new_page()
            page.on("requestfinished", lambda request: finished.append(request))
            await page.goto(base + path)
            await page.wait_for_load_state("networkidle")
            sizes = [(request.url, await request.sizes()) for request in finished]
        finally:
            await browser.close()
    total = sum(size["responseBodySize"] + size["responseHeadersSize"] for _, size in sizes)
    audio = sum(size["responseBodySize"] + size["responseHeadersSize"] for url, size in sizes if url.endswith("/audio"))
    return {"requests": len(sizes), "bytes": total, "bytes_without_audio": total - audio}


async def ttfb(url: str, clients: int, per_client: int, *, burst: bool) -> dict[str, float]:
    """Time to the response's headers for `clients` clients on their own connections.

    Closed loop (`burst=False`): each asks `per_client` times back to back, so 100 requests are always waiting: the
    server's saturation. Bursts: all ask once at the same instant, `per_client` rounds with a pause between: a
    link shared in a busy channel, opened by 100 members at once.
    """
    timings: list[float] = []
    statuses: set[int] = set()
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def ask() -> None:
            started = time.perf_counter()
            async with http.get(url) as response:
                timings.append(time.perf_counter() - started)
                statuses.add(response.status)
                await response.read()

        async def client() -> None:
            for _ in range(per_client):
                await ask()

        await asyncio.gather(*(ask() for _ in range(clients)))  # warm up: connections, the picture, the caches
        timings.clear()
        started = time.perf_counter()
        if burst:
            for _ in range(per_client):
                await asyncio.gather(*(ask() for _ in range(clients)))
                await asyncio.sleep(0.2)
        else:
            await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    assert statuses == {200}, statuses
    timings.sort()
    return {
        "p50_ms": statistics.median(timings) * 1000,
        "p95_ms": timings[int(len(timings) * 0.95) - 1] * 1000,
        "max_ms": timings[-1] * 1000,
        "requests_per_second": len(timings) / elapsed,
    }


async def measure(site: dict[str, str], clients: int, per_client: int) -> dict[str, Any]:
    base = site["base"]
    return {
        "weight_song_page": await page_weight(base, f"/s/{site['song']}"),
        "weight_whole_song_page": await page_weight(base, f"/s/{site['whole']}"),
        **{
            f"ttfb_{name}_{mode}": await ttfb(f"{base}{path}", clients, per_client, burst=mode == "burst")
            for mode in ("burst", "closed_loop")
            for name, path in (
                ("song_page", f"/s/{site['song']}"),
                ("stylesheet", "/pages.css"),
                ("waveform", f"/s/{site['song']}/waveform.png"),
            )
        },
        "clients": clients,
        "requests_per_client": per_client,
    }


def table(results: dict[str, Any]) -> str:
    rows = []
    for name in ("song_page", "whole_song_page"):
        weight = results[f"weight_{name}"]
        rows.append(
            (
                f"weight of a {name.replace('_', ' ')} in Chromium",
                f"{weight['requests']} requests, {weight['bytes'] / 1024:.0f} kB (audio: "
                f"{(weight['bytes'] - weight['bytes_without_audio']) / 1024:.0f} kB until played)",
                "small; nothing from another origin",
            )
        )
    clients, rounds = results["clients"], results["requests_per_client"]
    for mode, load in (
        ("burst", f"{clients} clients at once, {rounds} bursts"),
        ("closed_loop", f"{clients} clients back to back, {rounds} requests each"),
    ):
        floor = results[f"ttfb_stylesheet_{mode}"]
        for name, label in (("song_page", "song page"), ("waveform", "waveform picture (cached)")):
            figures = results[f"ttfb_{name}_{mode}"]
            rows.append(
                (
                    f"time to first byte, {label}, {load}",
                    f"p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, "
                    f"{figures['requests_per_second']:.0f} req/s (stylesheet, same run: p95 {floor['p95_ms']:.1f} ms, "
                    f"{floor['requests_per_second']:.0f} req/s)",
                    "p95 < 50 ms" if name == "song_page" else "—",
                )
            )
    return markdown_table(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--requests", type=int, default=REQUESTS_PER_CLIENT)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(target=serve, args=(theirs,), daemon=True)
    server.start()
    try:
        if not ours.poll(120):
            raise SystemExit("the page server did not start")
        site = ours.recv()
        results = asyncio.run(measure(site, args.clients, args.requests))
    finally:
        ours.send("stop")
        server.join(30)
        if server.is_alive():
            server.kill()
    print(table(results))
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
