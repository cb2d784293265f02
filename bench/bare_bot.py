"""The floor for part 1: a bare discord.py bot whose `/extend` only defers, pointed at the same fake Discord.

Encore's answer latency is measured against this, so the table shows what Encore adds to discord.py itself. With
`--set-start-up-objects-aside` it freezes its start-up objects out of garbage collection as `python -m bot` does, so
that the ratio to it leaves the collector's share out and shows Encore's own work.
"""

from __future__ import annotations

import gc
import os
import sys

import discord
import yarl
from discord import app_commands
from discord.ext import commands


class BareBot(commands.Bot):
    """Syncs one `/extend` with Encore's option names to the development guild, then only defers."""

    async def setup_hook(self) -> None:
        guild = discord.Object(int(os.environ["DEV_GUILD_ID"]))
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)
        print("Encore ready to take commands (bare discord.py reference)", flush=True)


@app_commands.command(name="extend", description="Defer and do nothing else")
async def extend(interaction: discord.Interaction, song: str, at: str | None = None, lyrics: str | None = None) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)


def main() -> None:
    if "--set-start-up-objects-aside" in sys.argv[1:]:  # the second floor: as `python -m bot` does
        gc.collect()
        gc.freeze()
    discord.http.Route.BASE = os.environ["DISCORD_API_BASE"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
    bot = BareBot(command_prefix=commands.when_mentioned, intents=discord.Intents.default())
    bot.tree.add_command(extend)
    bot.run(os.environ["DISCORD_TOKEN"], log_handler=None)


if __name__ == "__main__":
    main()
