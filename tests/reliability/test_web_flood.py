"""Half-sent requests to the web port cannot take Encore down: the real `python -m bot`, under a low open-files
limit (as a service manager sets one), keeps answering `/healthz`, takes webhooks and makes tasks while the test
holds many more half-open connections than the limit allows, closes them after its request timeout, and logs
"Too many open files" at most once per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.logs import FileLimitNotices
from bot.web.server import secret_meta_key
from tests.e2e.harness import eventually, free_port
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.fakes.providers import FakeApiframe
from tests.reliability.harness import BotProcess, bot_process_env, is_result, rows, seeded_apiframe_options, tasks

FILE_LIMIT = 256
"""The child's hard RLIMIT_NOFILE, a quarter of systemd's default soft limit (its soft one starts at half that);
the flood below is 2.5 times it."""
FLOOD = 640
REQUEST_TIMEOUT = 1.5
OPEN_WITHIN = 3.0
LISTEN = "0A"  # the state of a listening socket in /proc/net/tcp
# Every kind of request a slow or hostile client leaves half-sent, and a connection that sends nothing at all.
HALF_SENT = (
    b"",
    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n",
    b"POST /webhooks/apiframe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4000\r\n",
)


@contextlib.asynccontextmanager
async def half_open(port: int, count: int, body_with_secret: bytes) -> AsyncIterator[list[asyncio.StreamReader]]:
    """`count` connections from 127.0.0.1, each left in the middle of a request; all closed on the way out."""
    kinds = (*HALF_SENT, body_with_secret)
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def one(number: int) -> None:
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(OPEN_WITHIN):  # a server that stopped accepting leaves connects pending
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            opened.append((reader, writer))
            writer.write(kinds[number % len(kinds)])

    try:
        await asyncio.gather(*(one(number) for number in range(count)))
        yield [reader for reader, _ in opened]
    finally:
        for _, writer in opened:
            writer.close()


def web_connections(bot: BotProcess, port: int) -> list[int]:
    """The sockets the bot holds on its web port, from its open files and the kernel's TCP table."""
    inodes = set()
    for fd in Path(f"/proc/{bot.process.pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):  # closed since the listing
            if (target := os.readlink(fd)).startswith("socket:["):
                inodes.add(target[8:-1])
    held = []
    for line in Path(f"/proc/{bot.process.pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].split(":")[1], 16), fields[3], fields[9]
        if local_port == port and state != LISTEN and inode in inodes:
            held.append(int(inode))
    return held


async def test_a_flood_of_half_sent_requests_leaves_health_webhooks_and_tasks_working(tmp_path: Path) -> None:
    database, port = tmp_path / "encore.db", free_port()
    async with FakeDiscord() as discord, FakeApiframe("fake-provider-key-0123456789") as apiframe:
        env = bot_process_env(
            discord,
            apiframe,
            database,
            PUBLIC_WEBHOOK_URL=f"http://127.0.0.1:{port}",
            WEBHOOK_HOST="127.0.0.1",
            WEBHOOK_PORT=str(port),
            WEBHOOK_POLL_INTERVAL_SECONDS="600",
            WEB_REQUEST_TIMEOUT_SECONDS=str(REQUEST_TIMEOUT),
            LOG_LEVEL="INFO",
        )
        bot = await BotProcess.start(env, tmp_path, file_limit=(FILE_LIMIT // 2, FILE_LIMIT))
        [secret_row] = rows(database, "SELECT value FROM meta WHERE key = ?", (secret_meta_key("apiframe"),))
        slow_body = (
            b"POST /webhooks/apiframe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4000\r\n"
            b"x-webhook-secret: " + str(secret_row["value"]).encode() + b'\r\n\r\n{"task_id": '
        )
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(5)) as client:

            async def health() -> int:
                async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
                    return response.status

            for _ in range(200):  # the gateway's READY comes a moment after the bot says it is ready
                if await health() == 200:
                    break
                await asyncio.sleep(0.05)
            async with half_open(port, FLOOD, slow_body) as flood:
                assert len(flood) > FILE_LIMIT  # the test holds more connections than the bot could keep open
                assert await health() == 200
                assert len(web_connections(bot, port)) <= FILE_LIMIT // 4  # the cap: a quarter of the file limit
                await discord.invoke_command("extend", seeded_apiframe_options(apiframe))
                submit = await apiframe.wait_for_submit()
                apiframe.set_script(submit.task_id, ["finished"])
                apiframe.push_webhook(submit.task_id)
                assert (await apiframe.wait_for_webhook(submit.task_id)).response_status == 200
                await discord.wait_for_message(CHANNEL_ID, is_result)
                # Every half-sent request still held is ended by the bot within the request timeout (plus the
                # kernel's retries of a connect it dropped while the accept queue was full).
                await eventually(
                    lambda: not web_connections(bot, port), within=REQUEST_TIMEOUT + 10, what="the flood closed"
                )
            # A webhook whose body stops half-way is answered 408 once the request timeout has passed.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(slow_body)
            async with asyncio.timeout(REQUEST_TIMEOUT + 5):
                answer = await reader.read()
            writer.close()
            assert answer.startswith(b"HTTP/1.1 408"), answer
        await eventually(lambda: tasks(database) and tasks(database)[0]["status"] == "delivered")
        assert await bot.terminate() == 0
    line = await bot.wait_for_line("open files")
    assert f"limit of open files raised from {FILE_LIMIT // 2} to {FILE_LIMIT}" in line, line
    assert sum("Too many open files" in line for line in bot.lines) <= 1, bot.output
    assert "Traceback" not in bot.output


def test_too_many_open_files_is_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    """Whatever logs it (asyncio's accept loop, a store, a client), the error is one line per interval, and the
    next line says how many were left out."""
    clock = [100.0]
    notices = FileLimitNotices(interval=60.0, clock=lambda: clock[0])
    logger = logging.getLogger("encore.test.flood")
    logger.addFilter(notices)
    try:
        with caplog.at_level(logging.ERROR, logger=logger.name):
            for _ in range(5000):
                try:
                    raise OSError(errno.EMFILE, "Too many open files")
                except OSError:
                    logger.exception("socket.accept() out of system resource")
            logger.error("an unrelated error")
            clock[0] += 61
            logger.error("accept failed: [Errno 24] Too many open files")
    finally:
        logger.removeFilter(notices)
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == "socket.accept() out of system resource: [Errno 24] Too many open files"
    assert caplog.records[0].exc_info is None  # one line, not a traceback per failed accept
    assert messages[1] == "an unrelated error"
    assert messages[2].startswith("accept failed: [Errno 24] Too many open files")
    assert "4999 more like it" in messages[2]
    assert len(messages) == 3
