"""`python -m bench.intents_bot default|encore`: the real `python -m bot`, with Discord's default intents or Encore's.

Only the intents differ, so the gateway-load part of `bench.scale` compares what they cost on one event flood.
"""

from __future__ import annotations

import sys

import discord

import bot.app
from bot.__main__ import main

if __name__ == "__main__":
    if sys.argv.pop(1) == "default":
        bot.app.encore_intents = discord.Intents.default  # type: ignore[attr-defined]  # the name bot.app calls
    sys.exit(main())
