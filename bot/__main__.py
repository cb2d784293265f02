"""`python -m bot`: read the settings, start Encore, stop cleanly on SIGINT or SIGTERM.

`python -m bot check` (or `--check`, which `scripts/start --check` passes on) reports whether the token, servers,
permissions, provider key, database and webhook URL work; `python -m bot backup FILE` copies the database while
the bot runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import resource
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import discord
from dotenv import load_dotenv

from bot.app import EncoreBot, open_store
from bot.config import ConfigError, Settings
from bot.logs import configure_logging, redact
from bot.ops.backup import backup
from bot.ops.check import run_checks
from bot.ops.network import connection_failure
from bot.store import Store, StoreUnavailable

log = logging.getLogger("bot")

MAX_RETRY_SECONDS = 60.0


def unreachable(error: BaseException) -> str | None:
    """Why Discord could not be reached, in a few words; None for an error that waiting cannot fix."""
    if isinstance(error, discord.GatewayNotFound):
        return "Discord's gateway was not found (an outage at Discord?)"
    if isinstance(error, discord.HTTPException):
        return f"Discord answered HTTP {error.status}" if error.status >= 500 else None
    if isinstance(error, aiohttp.ClientError | OSError | TimeoutError):
        return connection_failure(error)
    return None


async def run(settings: Settings) -> int:
    """Open the database (refusing at once if it cannot be used), then run until stopped; return the exit code."""
    try:
        store = await open_store(settings)
    except StoreUnavailable as error:  # a driver's message may quote DATABASE_URL: never its password
        print(f"encore: {redact(str(error), settings.secrets)}", file=sys.stderr)
        return 1
    raise_open_files_limit()  # after the store opened: a start that fails stays one line
    set_start_up_objects_aside()
    try:
        return await _serve(settings, store)
    finally:
        await store.close()


async def _serve(settings: Settings, store: Store) -> int:
    """Log in and stay connected; while Discord cannot be reached, say so in one line and retry with backoff.

    A closed client cannot be started again, so every attempt builds a fresh one on the same store.
    """
    stopped = asyncio.Event()
    current: list[EncoreBot] = []
    closing: set[asyncio.Task[None]] = set()

    def stop(signal_name: str) -> None:
        log.info("%s received: finishing work in flight and shutting down", signal_name)
        stopped.set()
        if current:
            closing.add(asyncio.get_running_loop().create_task(current[0].close()))

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum.name)
    delay = 1.0
    while not stopped.is_set():
        bot = EncoreBot(settings, store=store)
        current[:] = [bot]
        try:
            async with bot:
                await bot.start(settings.discord_token)
            break
        except discord.LoginFailure:
            print(
                "encore: DISCORD_TOKEN: Discord refused the token; copy it again from the Developer Portal",
                file=sys.stderr,
            )
            return 2
        except discord.PrivilegedIntentsRequired:
            print("encore: the bot asked for a privileged intent it does not need; please report this", file=sys.stderr)
            return 2
        except Exception as error:
            reason = unreachable(error)
            if stopped.is_set():
                break
            if reason is None:
                raise
        log.warning("Discord unreachable at %s: %s; retrying in %.0f s", settings.discord_api_base, reason, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), timeout=delay)
        delay = min(MAX_RETRY_SECONDS, delay * 2)
    # `start` returns as soon as the gateway is closed, before `close` has closed everything: wait for the rest.
    await asyncio.gather(*closing)
    return 0


def raise_open_files_limit() -> None:
    """Raise the soft limit on open files to the hard one, as servers do: a service manager's default soft limit
    (1,024 under systemd) is low for a bot holding sockets for Discord, the provider, downloads and its web port."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as error:  # a hard limit the kernel will not grant as a soft one
        log.warning("limit of open files stays at %d: it could not be raised to %d (%s)", soft, hard, error)
        return
    log.info("limit of open files raised from %d to %s", soft, "none" if hard == resource.RLIM_INFINITY else hard)


def set_start_up_objects_aside() -> None:
    """Exempt what exists once started (modules, discord.py, PyAV, aiohttp, their tables) from garbage collection.

    A full collection walks every tracked object: in Encore's process that took 35 ms on a 2-core machine, and a
    burst of commands allocates enough to trigger one, which held up the acknowledgements of the commands behind it.
    What is set aside here lives as long as the process anyway; objects made later are collected as before.
    """
    gc.collect()
    gc.freeze()
    log.debug("%d objects made at start set aside from garbage collection", gc.get_freeze_count())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Encore, a Discord bot that extends songs.")
    parser.add_argument("--check", action="store_true", help="the same as the check command (scripts/start --check)")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("check", help="check the settings against Discord, the provider and the database")
    backup_parser = commands.add_parser("backup", help="copy the database (safe while the bot runs)")
    backup_parser.add_argument("file", type=Path, help="where to write the copy")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load_dotenv(override=False)
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as error:
        print(f"encore: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.secrets, settings.log_format)
    if args.check or args.command == "check":
        return asyncio.run(run_checks(settings))
    if args.command == "backup":
        return backup(settings, args.file)
    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
