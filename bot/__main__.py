"""`python -m bot`: read the settings, start Encore, stop cleanly on SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import discord
from dotenv import load_dotenv

from bot.app import EncoreBot
from bot.config import ConfigError, Settings
from bot.logs import configure_logging

log = logging.getLogger("bot")


async def run(settings: Settings) -> int:
    """Run until Discord closes the connection or a stop signal arrives; return the exit code."""
    bot = EncoreBot(settings)
    stopping: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _stop, bot, signum.name, stopping)
    try:
        async with bot:
            await bot.start(settings.discord_token)
    except discord.LoginFailure:
        print(
            "encore: DISCORD_TOKEN: Discord refused the token; copy it again from the Developer Portal", file=sys.stderr
        )
        return 2
    except discord.PrivilegedIntentsRequired:
        print("encore: the bot asked for a privileged intent it does not need; please report this", file=sys.stderr)
        return 2
    # `start` returns as soon as the gateway is closed, before `close` has closed the database: wait for the rest.
    await asyncio.gather(*stopping)
    return 0


def _stop(bot: EncoreBot, signal_name: str, stopping: set[asyncio.Task[None]]) -> None:
    """Close the bot from the signal handler; `run` returns once it has closed."""
    log.info("%s received: finishing work in flight and shutting down", signal_name)
    stopping.add(asyncio.get_running_loop().create_task(bot.close()))


def main() -> int:
    load_dotenv(override=False)
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as error:
        print(f"encore: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.secrets)
    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
