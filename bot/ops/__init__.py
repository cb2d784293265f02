"""Operator commands beside the bot: `python -m bot check` and `python -m bot backup FILE`.

Nothing here imports discord: Discord is asked over plain REST with aiohttp, as an operator's script would.
"""
